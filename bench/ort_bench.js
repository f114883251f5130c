// Times ONNX Runtime (CPU, through onnxruntime-node) on one model with given .npy inputs.
// usage: node bench/ort_bench.js ORT_DIR MODEL --input NAME=FILE.npy ... [--threads T] [--iters N] [--warmup W]
//                                [--reference FILE.npy]
// ORT_DIR holds node_modules/onnxruntime-node. Session options: intraOpNumThreads T, interOpNumThreads 1, graph
// optimisation 'all', sequential execution. Prints one JSON object: latencies, session creation and first-run
// times, peak RSS, and the largest difference of output 0 from --reference when given.
'use strict';
const fs = require('fs');
const path = require('path');

// The .npy subset numpy writes for C-ordered arrays of the types the benchmark models take.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter(s => s.trim()).map(Number);
  if (!NPY_TYPES[descr]) throw new Error(`${file}: dtype ${descr} is not supported`);
  const [type, Typed] = NPY_TYPES[descr];
  const bytes = buf.subarray(start + headerLen);  // copied: typed arrays need aligned offsets
  const data = new Typed(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { type: type === 'bool' ? 'bool' : type, data, shape };
}

function parseArgs(argv) {
  const opt = { threads: 1, iters: 10, warmup: 1, inputs: {}, reference: null };
  [opt.ortDir, opt.model] = argv.splice(0, 2);
  while (argv.length) {
    const key = argv.shift(), value = argv.shift();
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key === '--threads') opt.threads = Number(value);
    else if (key === '--iters') opt.iters = Number(value);
    else if (key === '--warmup') opt.warmup = Number(value);
    else if (key === '--reference') opt.reference = value;
    else if (key === '--input') { const eq = value.indexOf('='); opt.inputs[value.slice(0, eq)] = value.slice(eq + 1); }
    else throw new Error(`unknown option ${key}`);
  }
  return opt;
}

const msSince = start => Number(process.hrtime.bigint() - start) / 1e6;

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const ort = require(path.join(path.resolve(opt.ortDir), 'node_modules', 'onnxruntime-node'));
  const feeds = {};
  for (const [name, file] of Object.entries(opt.inputs)) {
    const a = readNpy(file);
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  }
  let start = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(opt.model, {
    intraOpNumThreads: opt.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const createMs = msSince(start);
  start = process.hrtime.bigint();
  const outputs = await session.run(feeds);
  const firstRunMs = msSince(start);
  for (let i = 0; i < opt.warmup; i++) await session.run(feeds);
  const latencies = [];
  for (let i = 0; i < opt.iters; i++) {
    start = process.hrtime.bigint();
    await session.run(feeds);
    latencies.push(msSince(start));
  }
  let maxAbsDiff = null;
  if (opt.reference) {
    const ref = readNpy(opt.reference).data, out = outputs[session.outputNames[0]].data;
    maxAbsDiff = out.length === ref.length ? 0 : Infinity;
    for (let i = 0; i < Math.min(out.length, ref.length); i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - ref[i]));
    }
  }
  console.log(JSON.stringify({
    engine: 'onnxruntime', version: ort.env.versions.common, model: opt.model, threads: opt.threads,
    startup_ms: createMs, first_run_ms: firstRunMs, latencies_ms: latencies,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,  // KiB
    max_abs_diff: maxAbsDiff,
  }));
}

main().catch(e => { console.error(String(e && e.message || e).split('\n')[0]); process.exit(1); });
