#!/usr/bin/python3
"""`infera quantize --max-accuracy-drop` and `infera quantize --sweep` on mobilenetv2-12-fp32 and the ImageNet sample.

usage: /usr/bin/python3 test_mixed_precision.py INFERA_BIN [SHARED_DIR]

Small sizes, about 2.5 minutes on the 2 shared cores (most of it compiling the 55 one-layer models of the
sensitivity runs); the full-size numbers (100 calibration images, 500 evaluation images) are measured by hand:
- Mixed precision: int8 with per-tensor weights and min-max ranges (the default, the variant that loses most on
  this network) calibrated on 50 images, evaluated on 100 (--spread: evenly spaced over the 500, for both sets),
  budget 0.5 top-1 points. The plan must
  meet the budget on the evaluation set as the command reports it, and `infera eval` of the written model on the
  same images must give the same top-1 count (the plan was measured, not predicted). Every trial that kept fewer
  layers than the plan must have missed the budget (the answer is the fewest measured).
- Sweep: 20 calibration and 16 evaluation images, 3 latency runs. sweep.json parses, lists the 12 variants with
  top-1, agreement, latency and size, fp32 agrees with itself, at least one variant is on the Pareto front and
  none on it is dominated; sweep.html is one self-contained page (an inline SVG, no script, no external link).
Exits 0 when all pass, 1 on any failure, 77 (skip) without ../shared.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: skips cleanly without numpy)
from common import Timer, pct  # noqa: E402

BUDGET = 0.5  # top-1 points
VARIANTS = 12  # fp32, fp16, bf16, int8 x 4 methods x 2 granularities, int4-weight


def imagenet_flags(folder):
    return ["--preprocess", "imagenet", "--labels", os.path.join(folder, "labels.tsv")]


def test_mixed_precision(env, table, tmp):
    model, folder = env.model("mobilenetv2-12-fp32"), env.data("imagenet-sample")
    out = os.path.join(tmp, "plan.onnx")
    t = Timer()
    with t:
        plan = json.loads(env.infera_cli("quantize", model, "-o", out, "--calib", folder, "--limit", 50, "--spread",
                                 "--eval", folder, "--eval-limit", 100, "--sensitivity-samples", 8,
                                 "--max-accuracy-drop", BUDGET, "--latency-runs", 3, "--json",
                                 *imagenet_flags(folder)))
        check = json.loads(env.infera_cli("eval", out, "--data", folder, "--limit", 100, "--spread", "--json",
                                  *imagenet_flags(folder)))
    n = plan["samples"]
    fp32, got = round(plan["fp32"]["top1"] * n), round(plan["plan"]["top1"] * n)
    evaluated = round(check["accuracy"]["top1"] * check["samples"])
    kept = len(plan["kept_fp32"])
    fewest = all(not tr["within"] for tr in plan["trials"] if tr["kept"] < kept)
    ok = (plan["met"] and n == 100 and 100 * (fp32 - got) / n <= BUDGET + 1e-9 and evaluated == got and fewest
          and os.path.isfile(out))
    print(f"    fp32 {fp32}/{n}, full {pct(plan['full']['top1'])}, plan {got}/{n} with {kept} layers in fp32 "
          f"({plan['evaluations']} evaluations, {plan['sensitivity_runs']} sensitivity runs); infera eval of the "
          f"written plan: {evaluated}/{check['samples']}")
    table.add("mobilenetv2-12-fp32", f"int8 --max-accuracy-drop {BUDGET}, 100 images", "ok" if ok else "FAIL",
              f"fp32 {pct(fp32 / n)}, plan {pct(got / n)} ({kept} fp32 layers), eval {pct(evaluated / n)}",
              "within budget, eval equal, fewest", t, ok=ok)


def dominated(row, rows):
    return any(o["top1"] >= row["top1"] and o["latency_ms"] <= row["latency_ms"] and
               (o["top1"] > row["top1"] or o["latency_ms"] < row["latency_ms"]) for o in rows)


def test_sweep(env, table, tmp):
    model, folder = env.model("mobilenetv2-12-fp32"), env.data("imagenet-sample")
    out = os.path.join(tmp, "sweep")
    t = Timer()
    with t:
        env.infera_cli("quantize", model, "--sweep", "-o", out, "--calib", folder, "--limit", 20, "--eval", folder,
               "--eval-limit", 16, "--latency-runs", 3, *imagenet_flags(folder))
    with open(os.path.join(out, "sweep.json")) as f:
        report = json.load(f)
    with open(os.path.join(out, "sweep.html")) as f:
        html = f.read()
    rows = [v for v in report["variants"] if "error" not in v]
    failed = [f"{v['variant']}: {v['error']}" for v in report["variants"] if "error" in v]
    fp32 = next((v for v in rows if v["variant"] == "fp32"), None)
    front = [v for v in rows if v["pareto"]]
    complete = all(k in v for v in rows for k in ("top1", "top5", "agreement", "latency_ms", "size_bytes"))
    page = ("<svg" in html and "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html and html.rstrip().endswith("</html>"))
    files = all(os.path.isfile(v["file"]) for v in rows if v["variant"] != "fp32")
    ok = (len(report["variants"]) == VARIANTS and not failed and fp32 is not None and fp32["agreement"] == 1
          and report["samples"] == 16 and complete and front and not any(dominated(v, rows) for v in front)
          and page and files)
    print(f"    {len(rows)} variants measured, {len(front)} on the Pareto front: "
          f"{', '.join(v['variant'] for v in front)}; failed: {failed or 'none'}")
    table.add("mobilenetv2-12-fp32", "quantize --sweep, 16 images", "ok" if ok else "FAIL",
              f"{len(rows)}/{VARIANTS} variants, front {len(front)}, html {len(html) // 1024} KiB",
              "valid JSON + HTML", t, ok=ok)


def main():
    def body(env, table):
        with tempfile.TemporaryDirectory() as tmp:
            table.guarded("mobilenetv2-12-fp32", lambda: test_mixed_precision(env, table, tmp), "mixed precision")
            table.guarded("mobilenetv2-12-fp32", lambda: test_sweep(env, table, tmp), "sweep")
    return common.run_suite("infera quantize: mixed precision and sweep", body, need_ort=False)


if __name__ == "__main__":
    sys.exit(main())
