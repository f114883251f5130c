#!/usr/bin/python3
"""Checks `infera project --device this` against what infera measures on this machine, model by model and layer by
layer.

usage: /usr/bin/python3 bench/projection_check.py [--infera build/infera] [--models a,b] [--threads 1] [--rounds 3]
                                                  [--iters 10] [--layers 20] [--tolerance 15]
                                                  [--cache build/bench-cache] [--out FILE.json]

Each round first measures this machine with `infera device probe` (peaks, cache and DRAM bandwidths, and infera's own
dispatch cost per step and matrix-kernel efficiency; written to a temporary device file), so that the projection
uses numbers measured under the same conditions as the runs it is checked against. Then for every model it runs
`infera project --device-file PROBE --json`, `infera bench --json` and `infera profile --json` (per-step times),
each in its own process. Predicted latency: median over the rounds; measured: median of all timed bench
iterations. Exit status 1 when a model's end-to-end error exceeds --tolerance percent, 2 when a command failed.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
SHARED = os.path.join(REPO, "..", "shared", "models")
BENCH_MODELS = ("resnet50", "mobilenet_v2", "squeezenet1_1", "bert_base", "mobilenetv2-12")
# Shared models whose inputs need a shape the file leaves symbolic.
SHAPES = {"stories260K": ["tokens=1x64"]}


# Units the device file writes peaks and times in, to GFLOP/s and µs.
UNITS = {"GFLOP/s": 1, "TFLOP/s": 1e3, "PFLOP/s": 1e6, "s": 1e6, "ms": 1e3, "us": 1, "ns": 1e-3}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        lines = [l for l in (p.stderr or p.stdout).splitlines() if l.strip()]
        raise RuntimeError(f"{' '.join(cmd[:3])}: exit {p.returncode}: {lines[-1] if lines else ''}")
    return json.loads(p.stdout)


def find_models(cache, names):
    """name -> (onnx path, [--input NAME=FILE ...], [--shape ...])"""
    found = {}
    for name in BENCH_MODELS:
        path = os.path.join(cache, name + ".onnx")
        if os.path.exists(path):
            found[name] = path
    cached = {os.path.realpath(p) for p in found.values()}
    for path in sorted(glob.glob(os.path.join(SHARED, "*.onnx")) + glob.glob(os.path.join(SHARED, "*", "*.onnx"))):
        if os.path.realpath(path) not in cached:  # bench-cache links some of them, with saved inputs
            found.setdefault(os.path.splitext(os.path.basename(path))[0], path)
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            sys.exit(f"unknown or missing model(s): {', '.join(missing)} (known: {', '.join(found)})")
        found = {n: found[n] for n in names}
    models = {}
    for name, path in found.items():
        input_dir = os.path.join(cache, name + ".inputs")
        inputs = [f"{os.path.splitext(os.path.basename(f))[0]}={f}" for f in sorted(glob.glob(os.path.join(input_dir, "*.npy")))]
        models[name] = (path, [a for i in inputs for a in ("--input", i)], [a for s in SHAPES.get(name, []) for a in ("--shape", s)])
    return models


def percent_error(predicted, measured):
    return 100 * (predicted - measured) / measured if measured > 0 else float("nan")


def layer_table(projections, profiles, count):
    """The `count` steps with the longest measured time: measured (median over rounds) vs predicted."""
    steps = profiles[0]["layers"]
    rows = []
    for i, step in enumerate(steps):
        measured = statistics.median(p["layers"][i]["time_us"] for p in profiles)
        predicted = statistics.median(p["layers"][i]["time_us"] for p in projections)
        proj = projections[0]["layers"][i]
        if proj["node"] != step["node"]:
            raise RuntimeError(f"step {i}: projection has '{proj['node']}', profile '{step['node']}'")
        rows.append({"index": i + 1, "node": step["node"], "op_type": step["op_type"], "measured_us": measured,
                     "predicted_us": predicted, "error_percent": percent_error(predicted, measured),
                     "bound": proj["bound"]})
    rows.sort(key=lambda r: -r["measured_us"])
    return rows[:count]


def check(args):
    infera = os.path.abspath(args.infera)
    models = find_models(args.cache, [m for m in args.models.split(",") if m])
    threads = ["--threads", str(args.threads)]
    results = {name: {"predicted_ms": [], "measured_ms": [], "projections": [], "profiles": []} for name in models}
    machine = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            device = os.path.join(tmp, f"this-{r}.json")
            log(f"round {r + 1}/{args.rounds}: probing this machine")
            probe = run_json([infera, "device", "probe", *threads, "--json", "-o", device], args.timeout)
            machine.append({"fma_peak_gflops": probe["peak_ops"]["fp32"]["value"] * UNITS[probe["peak_ops"]["fp32"]["unit"]],
                            "matrix_efficiency": probe.get("matrix_efficiency", {}).get("fp32", {}).get("value", 1),
                            "dispatch_us": probe["launch_overhead_s"]["value"] * UNITS[probe["launch_overhead_s"]["unit"]]})
            for name, (path, inputs, shapes) in models.items():
                log(f"round {r + 1}/{args.rounds}: {name}")
                res = results[name]
                proj = run_json([infera, "project", path, "--device-file", device, *threads, *shapes, "--json"],
                                args.timeout)
                bench = run_json([infera, "bench", path, *threads, *inputs, *shapes, "--iters", str(args.iters),
                                  "--json"], args.timeout)
                prof = run_json([infera, "profile", path, "--device", device, *threads, *inputs, *shapes, "--iters",
                                 str(args.iters), "--json"], args.timeout)
                res["predicted_ms"].append(proj["totals"]["latency_ms"])
                res["measured_ms"].extend(bench["latencies_ms"])
                res["projections"].append(proj)
                res["profiles"].append(prof)
    report = {"threads": args.threads, "rounds": args.rounds, "iters": args.iters, "tolerance_percent": args.tolerance,
              "machine": machine, "models": {}}
    for name, res in results.items():
        predicted = statistics.median(res["predicted_ms"])
        measured = statistics.median(res["measured_ms"])
        steps_ms = statistics.median(p["totals"]["steps_us"] / 1000 for p in res["profiles"])
        report["models"][name] = {
            "predicted_ms": predicted, "measured_ms": measured, "error_percent": percent_error(predicted, measured),
            "predicted_ms_per_round": res["predicted_ms"], "profiled_steps_ms": steps_ms,
            "predicted_by_bound_ms": res["projections"][-1]["totals"]["ms_by_bound"],
            "layers": layer_table(res["projections"], res["profiles"], args.layers)}
    return report


def print_report(report, layers):
    tol = report["tolerance_percent"]
    for r, m in enumerate(report["machine"]):
        print(f"round {r + 1}: FMA peak {m['fma_peak_gflops']:.1f} GFLOP/s, ideal matrix product "
              f"{100 * m['matrix_efficiency']:.1f} % of it, dispatch {m['dispatch_us']:.2f} µs per step")
    print(f"\nprojected vs measured, {report['threads']} thread(s), {report['rounds']} round(s) x "
          f"{report['iters']} iterations (target: within ±{tol:g} %)")
    print(f"{'model':<30} {'predicted ms':>12} {'measured ms':>12} {'error %':>8} {'steps ms':>9}  predicted bound (ms)")
    for name, m in report["models"].items():
        b = m["predicted_by_bound_ms"]
        flag = "" if abs(m["error_percent"]) <= tol else "  <-- outside target"
        print(f"{name:<30} {m['predicted_ms']:>12.3f} {m['measured_ms']:>12.3f} {m['error_percent']:>+8.1f} "
              f"{m['profiled_steps_ms']:>9.3f}  compute {b['compute']:.2f}, memory {b['memory']:.2f}, "
              f"overhead {b['overhead']:.2f}{flag}")
    if layers:
        for name, m in report["models"].items():
            print(f"\n{name}: the {len(m['layers'])} longest steps (measured; median over rounds)")
            print(f"  {'#':>4} {'step':<44} {'op':<18} {'measured µs':>11} {'predicted µs':>12} {'error %':>8} bound")
            for r in m["layers"]:
                node = r["node"] if len(r["node"]) <= 44 else "~" + r["node"][-43:]
                print(f"  {r['index']:>4} {node:<44} {r['op_type'][:18]:<18} {r['measured_us']:>11.1f} "
                      f"{r['predicted_us']:>12.1f} {r['error_percent']:>+8.1f} {r['bound']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--infera", default=os.path.join(REPO, "build", "infera"))
    ap.add_argument("--models", default="", help="comma-separated (default: the bench models and ../shared/models)")
    ap.add_argument("--cache", default=os.path.join(REPO, "build", "bench-cache"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--layers", type=int, default=20, help="longest steps listed per model (0: none)")
    ap.add_argument("--tolerance", type=float, default=15)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per command")
    ap.add_argument("--out", default="", help="also write the report as JSON here")
    args = ap.parse_args()
    try:
        report = check(args)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        log(f"projection_check: {e}")
        return 2
    print_report(report, args.layers)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if all(abs(m["error_percent"]) <= args.tolerance for m in report["models"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
