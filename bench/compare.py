#!/usr/bin/python3
"""Side-by-side CPU benchmark: infera against ONNX Runtime 1.30 and PyTorch 1.13, alternating engines in one run.

usage: /usr/bin/python3 bench/compare.py [--infera build/infera] [--models a,b] [--threads 1,2] [--rounds 3]
                                         [--iters 10] [--warmup 1] [--engines infera,onnxruntime,pytorch]
                                         [--cache build/bench-cache] [--out bench/results/compare.json]

For every model and thread count, each round runs every engine once, each in its own process, in an order that
rotates from round to round; an engine's result is taken over all its timed iterations of all rounds. See
bench/README.md for what is measured and how to read the table.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
ENGINES = ("infera", "onnxruntime", "pytorch")
ORT_VERSION = "1.30"
NOT_APPLICABLE = "n/a: the model is only given as an ONNX file, there is no PyTorch module to run"
ORT_DIRS = [os.path.expanduser("~/.cache/infera-bench/ort"), os.path.expanduser("~/.cache/infera-peers/ort")]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def first_line(text, limit=200):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return (lines[-1] if lines else "no message")[:limit]


def run_json(cmd, timeout):
    """Runs cmd and returns (the JSON object it printed, None) or (None, error text)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    except OSError as e:
        return None, f"cannot start {cmd[0]}: {e.strerror}"
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {first_line(p.stderr or p.stdout)}"
    try:
        return json.loads(p.stdout), None
    except ValueError:
        return None, f"no JSON in the output: {first_line(p.stdout)}"


# ---- setup: models, ONNX Runtime, facts about the machine ----

def prepare_models(cache, names, infera):
    """Exports what is missing; returns name -> error for the models that could not be prepared."""
    log(f"preparing models in {cache} ...")
    subprocess.run([sys.executable, os.path.join(BENCH, "prepare_models.py"), "--infera", infera, cache, *names])
    return {n: "model could not be prepared (see the log above)" for n in names
            if not os.path.exists(os.path.join(cache, n + ".onnx"))}


def ort_version_in(directory):
    try:
        with open(os.path.join(directory, "node_modules", "onnxruntime-node", "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def locate_ort(wanted_dir):
    """A directory holding onnxruntime-node 1.30.x, installing it with npm if none is found; (dir, error)."""
    candidates = [wanted_dir] if wanted_dir else ORT_DIRS
    for d in candidates:
        if (ort_version_in(d) or "").startswith(ORT_VERSION + "."):
            return d, None
    target = candidates[0]
    log(f"installing onnxruntime-node@{ORT_VERSION}.x into {target} ...")
    os.makedirs(target, exist_ok=True)
    if not os.path.exists(os.path.join(target, "package.json")):
        with open(os.path.join(target, "package.json"), "w") as f:
            f.write('{"name": "infera-bench-ort", "private": true}\n')
    try:  # --ignore-scripts: the package's install script only fetches GPU libraries
        p = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
                            f"onnxruntime-node@{ORT_VERSION}.x"], cwd=target, capture_output=True, text=True)
    except OSError as e:
        return None, f"npm not available: {e.strerror}"
    if p.returncode != 0 or not (ort_version_in(target) or "").startswith(ORT_VERSION + "."):
        return None, f"npm install failed: {first_line(p.stderr)}"
    return target, None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        return rev.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if rev.returncode == 0 else None
    except OSError:
        return None


# ---- one engine run ----

def model_files(cache, name):
    onnx_path = os.path.join(cache, name + ".onnx")
    inputs = [(n, os.path.join(cache, name + ".inputs", n + ".npy")) for n in models.make_inputs(name)]
    reference = os.path.join(cache, name + ".reference.npy")
    return onnx_path, inputs, reference if os.path.exists(reference) else None


def engine_command(engine, args, name, threads, ort_dir):
    onnx_path, inputs, reference = model_files(args.cache, name)
    common = ["--threads", str(threads), "--iters", str(args.iters), "--warmup", str(args.warmup)]
    if engine == "infera":
        cmd = [args.infera, "bench", onnx_path, *common, "--json", "--peak"]
        return cmd + [a for n, f in inputs for a in ("--input", f"{n}={f}")]
    if engine == "onnxruntime":
        cmd = ["node", os.path.join(BENCH, "ort_bench.js"), ort_dir, onnx_path, *common]
        cmd += [a for n, f in inputs for a in ("--input", f"{n}={f}")]
        return cmd + (["--reference", reference] if reference else [])
    return [sys.executable, os.path.join(BENCH, "torch_bench.py"), args.cache, name, *common]


def normalise(engine, raw):
    """The fields the table needs, the same for every engine."""
    if engine == "infera":
        return {"latencies_ms": raw["latencies_ms"], "startup_ms": raw["load_ms"] + (raw["compile_ms"] or 0),
                "load_ms": raw["load_ms"], "compile_ms": raw["compile_ms"], "first_run_ms": raw["first_run_ms"],
                "peak_rss_mib": raw["peak_rss_mib"], "peak_gflops": (raw.get("peak") or {}).get("gflops_per_s"),
                "flops": raw.get("flops")}
    return {k: raw.get(k) for k in ("latencies_ms", "startup_ms", "first_run_ms", "peak_rss_mib", "max_abs_diff",
                                    "version")}


# ---- statistics and the table ----

def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))] if ordered else None


def summarise(runs, error):
    """Pools the timed iterations of all rounds of one engine on one model and thread count."""
    latencies = [ms for r in runs for ms in r["latencies_ms"]]
    if not latencies:
        return {"error": error or "no runs"}
    def med(key):
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    out = {"median_ms": statistics.median(latencies), "p90_ms": percentile(latencies, 90), "min_ms": min(latencies),
           "iterations": len(latencies), "rounds": len(runs), "startup_ms": med("startup_ms"),
           "first_run_ms": med("first_run_ms"), "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
    for key in ("load_ms", "compile_ms", "peak_gflops", "flops", "max_abs_diff"):
        if med(key) is not None:
            out[key] = med(key)
    if runs[0].get("version"):
        out["version"] = runs[0]["version"]
    if error:
        out["error"] = error  # a later round failed
    return out


def fmt(value, spec=".1f", missing="-"):
    return missing if value is None else format(value, spec)


def print_table(rows, engines, peaks):
    short = {"infera": "infera", "onnxruntime": "ORT", "pytorch": "torch"}
    head = ["model", "T"] + [f"{short[e]} ms" for e in engines]
    head += [f"inf/{short[e]}" for e in engines if e != "infera"] if "infera" in engines else []
    head += ["GFLOP/s", "% peak", "ORT % pk", "start ms " + "/".join(short[e] for e in engines),
             "RSS MiB " + "/".join(short[e] for e in engines)]
    table = [head]
    for row in rows:
        r = row["engines"]
        med = {e: r[e].get("median_ms") for e in engines}
        line = [row["model"], str(row["threads"])]
        line += [fmt(med[e], ".2f", "n/a" if r[e].get("error") == NOT_APPLICABLE else "ERR") for e in engines]
        if "infera" in engines:
            line += [fmt(med["infera"] / med[e] if med["infera"] and med[e] else None, ".2f")
                     for e in engines if e != "infera"]
        flops, peak = row.get("flops"), peaks.get(row["threads"])
        gflops = {e: flops / (med[e] * 1e6) if flops and med[e] else None for e in engines}
        line += [fmt(gflops.get("infera")),
                 fmt(100 * gflops["infera"] / peak if gflops.get("infera") and peak else None),
                 fmt(100 * gflops.get("onnxruntime") / peak if gflops.get("onnxruntime") and peak else None),
                 "/".join(fmt(r[e].get("startup_ms"), ".0f") for e in engines),
                 "/".join(fmt(r[e].get("peak_rss_mib"), ".0f") for e in engines)]
        table.append(line)
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for line in table:
        print("  ".join(cell.rjust(w) if i > 0 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    for row in rows:
        for e in engines:
            if row["engines"][e].get("error") not in (None, NOT_APPLICABLE):
                print(f"  {row['model']} T={row['threads']} {e}: {row['engines'][e]['error']}")
    print_lower_precision_ratios(rows)


def print_lower_precision_ratios(rows):
    """For each int8 or bf16 model: infera on it against infera fp32 (same thread count) and against ORT on the same
    model."""
    median = {(r["model"], r["threads"], e): v.get("median_ms") for r in rows for e, v in r["engines"].items()}
    for row in rows:
        base = models.LOWER_PRECISION.get(row["model"])
        if not base:
            continue
        precision = "bf16" if row["model"] in models.BF16 else "int8"
        t, low = row["threads"], median.get((row["model"], row["threads"], "infera"))
        fp32, ort = median.get((base, t, "infera")), median.get((row["model"], t, "onnxruntime"))
        speedup = fmt(fp32 / low if fp32 and low else None, ".2f")
        vs_ort = fmt(low / ort if ort and low else None, ".2f")
        print(f"  {row['model']} T={t}: infera fp32/{precision} speed-up {speedup}x; "
              f"infera/ORT on the {precision} model {vs_ort}")


# ---- main ----

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--infera", default=os.path.join(REPO, "build", "infera"), help="the infera binary")
    p.add_argument("--models", default=",".join(models.ALL), help=f"comma-separated, from {', '.join(models.ALL)}")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--rounds", type=int, default=3, help="rounds of alternating engines")
    p.add_argument("--iters", type=int, default=10, help="timed iterations per engine and round")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs after the first run, per engine and round")
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, from " + ", ".join(ENGINES))
    p.add_argument("--cache", default=os.path.join(REPO, "build", "bench-cache"), help="exported models")
    p.add_argument("--ort-dir", help="where onnxruntime-node 1.30 is or goes (default: an existing install in "
                                     + " or ".join(ORT_DIRS) + ", else the first)")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed to one engine process")
    p.add_argument("--out", default=os.path.join(BENCH, "results", "compare.json"), help="JSON results")
    a = p.parse_args()
    a.models = [m for m in a.models.split(",") if m]
    a.engines = [e for e in a.engines.split(",") if e]
    a.threads = [int(t) for t in a.threads.split(",") if t]
    for m in a.models:
        if m not in models.ALL:
            p.error(f"unknown model {m} (known: {', '.join(models.ALL)})")
    for e in a.engines:
        if e not in ENGINES:
            p.error(f"unknown engine {e} (known: {', '.join(ENGINES)})")
    if a.rounds < 1 or a.iters < 1 or a.warmup < 0 or not a.threads or min(a.threads) < 1:
        p.error("--rounds and --iters must be >= 1, --warmup >= 0, thread counts >= 1")
    a.infera = os.path.abspath(a.infera)
    a.cache = os.path.abspath(a.cache)
    return a


def model_flops(args, name):
    """FLOPs per inference as infera's static analysis counts them, for every engine's GFLOP/s."""
    onnx_path, inputs, _ = model_files(args.cache, name)
    import numpy as np
    shapes = [a for n, f in inputs for a in ("--shape", f"{n}=" + "x".join(map(str, np.load(f, mmap_mode="r").shape)))]
    info, _ = run_json([args.infera, "info", onnx_path, "--json", *shapes], 120) if os.path.exists(args.infera) \
        else (None, None)
    return info.get("flops") if info and (info.get("flops") or -1) > 0 else None


def main():
    args = parse_args()
    engine_errors = {}
    model_errors = prepare_models(args.cache, args.models, args.infera)
    if not os.path.exists(args.infera):
        engine_errors["infera"] = f"{args.infera} does not exist (build it, or pass --infera)"
    ort_dir = None
    if "onnxruntime" in args.engines:
        ort_dir, engine_errors["onnxruntime"] = locate_ort(args.ort_dir)
        if engine_errors["onnxruntime"] is None:
            del engine_errors["onnxruntime"]

    notes = []  # models left out, and why
    for name in [m for m in args.models if m in models.FILE_MODELS]:
        if not os.path.exists(models.FILE_MODELS[name][0]):
            notes.append(f"{name} skipped: {models.FILE_MODELS[name][0]} is missing (no ../shared checkout)")
            args.models.remove(name)
    for note in notes:
        log(note)

    total = len(args.models) * len(args.threads) * args.rounds * len(args.engines)
    done, rows, versions = 0, [], {}
    for name in args.models:
        flops = None if name in model_errors else model_flops(args, name)
        for threads in args.threads:
            runs = {e: [] for e in args.engines}
            errors = {e: model_errors.get(name) or engine_errors.get(e) for e in args.engines}
            if not models.has_module(name) and "pytorch" in errors:
                errors["pytorch"] = NOT_APPLICABLE
            for rnd in range(args.rounds):
                order = args.engines[rnd % len(args.engines):] + args.engines[:rnd % len(args.engines)]
                for engine in order:
                    done += 1
                    if errors[engine]:
                        continue  # an engine that failed once on a model fails again: do not wait for it
                    start = time.monotonic()
                    raw, err = run_json(engine_command(engine, args, name, threads, ort_dir), args.timeout)
                    if raw is not None:
                        runs[engine].append(normalise(engine, raw))
                        versions[engine] = raw.get("version", versions.get(engine))
                        status = f"median {statistics.median(raw['latencies_ms']):.2f} ms"
                    else:
                        errors[engine], status = err, "ERROR " + err
                    log(f"[{done:>3}/{total}] {name} T={threads} round {rnd + 1}/{args.rounds} {engine}: {status} "
                        f"({time.monotonic() - start:.0f} s)")
            summaries = {e: summarise(runs[e], errors[e]) for e in args.engines}
            rows.append({"model": name, "threads": threads,
                         "flops": flops or summaries.get("infera", {}).get("flops"), "engines": summaries})

    # The FMA peak per thread count: the median of the measurements infera bench --peak made alongside each run.
    peaks = {}
    for t in args.threads:
        measured = [r["engines"]["infera"].get("peak_gflops") for r in rows
                    if r["threads"] == t and "infera" in r["engines"]]
        measured = [m for m in measured if m]
        peaks[t] = statistics.median(measured) if measured else None

    print(f"\n{cpu_model()}; medians over {args.rounds} rounds x {args.iters} iterations; "
          "fp32 FMA peak " + ", ".join(f"T={t}: {fmt(p, '.0f')} GFLOP/s" for t, p in peaks.items()))
    print_table(rows, args.engines, peaks)
    for note in notes:
        print(note)

    result = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads, "rounds": args.rounds,
        "iterations_per_round": args.iters, "warmup": args.warmup,
        "versions": {"infera": git_revision(), "onnxruntime": versions.get("onnxruntime"),
                     "pytorch": versions.get("pytorch"), "python": platform.python_version(),
                     # Debian's PyTorch does its matmuls in whatever libblas.so.3 is selected: netlib's is ~40x slower
                     "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")},
        "fp32_peak_gflops": {str(t): p for t, p in peaks.items()},
        "notes": notes,
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
