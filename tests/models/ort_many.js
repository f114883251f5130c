// Runs ONNX Runtime (onnxruntime-node) on one model many times in one process, for models with a fixed batch:
//   node ort_many.js MODEL OUT_DIR [NAME=]STACK.npy ...
// Each STACK.npy holds the inputs of all runs stacked along a new leading axis (N runs). Writes
// OUT_DIR/output_<i>.npy with the N outputs stacked the same way, and OUT_DIR/outputs.json with the names.
// ORT is found in $ORT_DIR (set by tests/models/common.py from shared/peers/setup-ort.sh). One thread.
const fs = require('fs'), path = require('path');
const ort = require(path.join(process.env.ORT_DIR, 'node_modules/onnxruntime-node'));
const kinds = { '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array], '|b1': ['bool', Uint8Array] };

function readNpy(file) {
  const b = fs.readFileSync(file), hlen = b.readUInt16LE(8), h = b.toString('latin1', 10, 10 + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(h)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(h)[1].split(',').filter(s => s.trim()).map(Number);
  if (/'fortran_order':\s*True/.test(h)) throw new Error(file + ': fortran order not supported');
  const k = kinds[descr]; if (!k) throw new Error(file + ': dtype ' + descr + ' not supported');
  const data = b.subarray(10 + hlen), copy = new Uint8Array(data.length); copy.set(data);
  return { type: k[0], data: new k[1](copy.buffer), shape };
}

function writeNpy(file, type, shape, chunks) {
  const descr = Object.keys(kinds).find(d => kinds[d][0] === type); if (!descr) throw new Error('cannot write ' + type);
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  h += ' '.repeat(63 - ((10 + h.length) % 64)) + '\n';
  const head = Buffer.alloc(10); head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  const bufs = chunks.map(d => Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(h, 'latin1'), ...bufs]));
}

(async () => {
  const [model, out, ...args] = process.argv.slice(2);
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const stacks = args.map((a, i) => {
    const eq = a.indexOf('=');
    return { name: eq > 0 ? a.slice(0, eq) : s.inputNames[i], t: readNpy(eq > 0 ? a.slice(eq + 1) : a) };
  });
  const n = stacks[0].t.shape[0];
  const results = s.outputNames.map(() => ({ type: null, shape: null, chunks: [] }));
  for (let r = 0; r < n; ++r) {
    const feeds = {};
    for (const { name, t } of stacks) {
      const per = t.data.length / t.shape[0];
      feeds[name] = new ort.Tensor(t.type, t.data.slice(r * per, (r + 1) * per), t.shape.slice(1));
    }
    const y = await s.run(feeds);
    s.outputNames.forEach((name, i) => {
      results[i].type = y[name].type; results[i].shape = y[name].dims; results[i].chunks.push(y[name].data);
    });
  }
  fs.mkdirSync(out, { recursive: true });
  results.forEach((o, i) => writeNpy(path.join(out, `output_${i}.npy`), o.type, [n, ...o.shape], o.chunks));
  fs.writeFileSync(path.join(out, 'outputs.json'), JSON.stringify(s.outputNames) + '\n');
})().catch(e => { console.error(String(e)); process.exit(1); });
