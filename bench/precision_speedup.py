#!/usr/bin/python3
"""infera's speed-up of a lower-precision copy (bf16, int8) over its fp32 model, timed in alternation.

usage: /usr/bin/python3 bench/precision_speedup.py [--infera build/infera] [--models resnet50_bf16,mobilenet_v2_bf16]
                                                   [--threads 1,2] [--rounds 7] [--iters 10]
                                                   [--cache build/bench-cache] [--out FILE.json]

compare.py times one model after the other, so on a shared machine a change of load between the fp32 row and the
bf16 row shows up as a speed-up. Here every round runs `infera bench` on the fp32 model and on its copy back to
back (the order alternating from round to round), and the speed-up is the median over rounds of each round's
fp32 median / copy median: a pair is taken under the same load.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import models  # noqa: E402


def median_ms(args, name, threads):
    onnx_path, inputs, _ = compare.model_files(args.cache, name)
    cmd = [args.infera, "bench", onnx_path, "--threads", str(threads), "--iters", str(args.iters), "--json"]
    cmd += [a for n, f in inputs for a in ("--input", f"{n}={f}")]
    raw, err = compare.run_json(cmd, 900)
    if raw is None:
        sys.exit(f"{name}: {err}")
    return statistics.median(raw["latencies_ms"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--infera", default=os.path.join(compare.REPO, "build", "infera"))
    p.add_argument("--models", default=",".join(models.BF16), help="lower-precision copies, from "
                                                                    + ", ".join(models.LOWER_PRECISION))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--cache", default=os.path.join(compare.REPO, "build", "bench-cache"))
    p.add_argument("--out", help="also write the rounds as JSON")
    args = p.parse_args()
    args.infera, args.cache = os.path.abspath(args.infera), os.path.abspath(args.cache)
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in models.LOWER_PRECISION:
            p.error(f"{m} is not a lower-precision copy (known: {', '.join(models.LOWER_PRECISION)})")
    if compare.prepare_models(args.cache, names, args.infera):
        sys.exit("models could not be prepared")

    rows = []
    for name in names:
        base = models.LOWER_PRECISION[name]
        for threads in [int(t) for t in args.threads.split(",")]:
            pairs = []
            for rnd in range(args.rounds):
                order = [base, name] if rnd % 2 == 0 else [name, base]
                ms = {m: median_ms(args, m, threads) for m in order}
                pairs.append((ms[base], ms[name]))
                compare.log(f"{name} T={threads} round {rnd + 1}/{args.rounds}: fp32 {ms[base]:.2f} ms, "
                            f"{name} {ms[name]:.2f} ms")
            rows.append({"model": name, "base": base, "threads": threads, "rounds_ms": pairs,
                         "fp32_median_ms": statistics.median(a for a, _ in pairs),
                         "median_ms": statistics.median(b for _, b in pairs),
                         "speedup": statistics.median(a / b for a, b in pairs),
                         "speedup_range": [min(a / b for a, b in pairs), max(a / b for a, b in pairs)]})

    print(f"\n{compare.cpu_model()}; {args.rounds} alternating rounds x {args.iters} iterations")
    print(f"{'model':<20} {'T':>2} {'fp32 ms':>9} {'copy ms':>9} {'speed-up':>9}  range over rounds")
    for r in rows:
        lo, hi = r["speedup_range"]
        print(f"{r['model']:<20} {r['threads']:>2} {r['fp32_median_ms']:>9.2f} {r['median_ms']:>9.2f} "
              f"{r['speedup']:>8.2f}x  {lo:.2f}-{hi:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"cpu": compare.cpu_model(), "rounds": args.rounds, "iterations": args.iters, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
