#!/usr/bin/python3
"""`infera eval` on real data: its own image decoding and preprocessing against the Python pipeline, its accuracy
against ONNX Runtime's on the same images.

usage: /usr/bin/python3 test_eval.py INFERA_BIN [SHARED_DIR]

- ImageNet: `infera eval mobilenetv2-12-fp32 --data imagenet-sample --labels labels.tsv --preprocess imagenet`
  (infera decodes the JPEGs and preprocesses them itself) must give the same top-1 and top-5 counts as ONNX
  Runtime on the 500 images preprocessed with PIL (common.imagenet_sample). infera's preprocessing reproduces
  PIL's decoding and resizing bit for bit, and the fp32 model agrees with ORT on >= 99 % of these images, so equal
  counts are expected (the issue quotes 82.6 % top-1).
- CIFAR-10: `infera eval resnet8-cifar10-fp32 --data cifar10-test --preprocess cifar --limit 500` reads the first
  50 images of each class (class folders are taken in turn) and must give ORT's top-1 count on the same 500 images
  (common.cifar_test); the labels come from the class folders.
- CIFAR-10, all 10,000 test images: `infera eval resnet8-cifar10-int8 --baseline resnet8-cifar10-fp32`: the int8
  release's top-1 within 0.2 pt of ORT's 75.65 % (../shared/README.md; infera's integer kernels round a few values
  differently, so the counts need not be equal), and within 0.5 pt of the fp32 model's (the issue's target).
- Self-comparison: `infera eval resnet8-cifar10-int8 --baseline resnet8-cifar10-int8 --per-layer` on 64 images
  must agree 100 % and report every shared value as exact (SQNR null = infinite, cosine 1).
Exits 0 when all pass, 1 on any failure, 77 (skip) without ../shared or ONNX Runtime.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: skips cleanly without numpy)
import numpy as np  # noqa: E402
from common import Timer, pct  # noqa: E402

IMAGENET_BATCH = 50  # as test_accuracy.py, so that ORT's cached outputs are shared
CIFAR_PER_CLASS = 50
CIFAR_BATCH = 16  # resnet8's fixed batch
ORT_RESNET8_INT8 = 0.7565  # ../shared/README.md: ONNX Runtime on the 10,000 CIFAR-10 test images


def infera_eval(env, model, data, *extra):
    return json.loads(env.infera_cli("eval", model, "--data", data, "--json", *extra))


def ort_counts(logits, labels):
    top5 = np.argsort(-logits, 1)[:, :5]
    return int((top5[:, 0] == labels).sum()), int((top5 == labels[:, None]).any(1).sum())


def test_imagenet(env, table):
    model = env.model("mobilenetv2-12-fp32")
    folder = env.data("imagenet-sample")
    t = Timer()
    with t:
        got = infera_eval(env, model, folder, "--labels", os.path.join(folder, "labels.tsv"),
                          "--preprocess", "imagenet")
        x, labels, _ = common.imagenet_sample(env)
        ref = np.concatenate([env.run_ort(model, [np.ascontiguousarray(x[s])])[0]
                              for s in common.batches(len(x), IMAGENET_BATCH)])
    n = got["samples"]
    top1, top5 = round(got["accuracy"]["top1"] * n), round(got["accuracy"]["top5"] * n)
    ort1, ort5 = ort_counts(ref, labels)
    print(f"    ImageNet sample: infera eval top-1 {top1}/{n}, top-5 {top5}/{n}; ORT {ort1}/{len(x)}, {ort5}/{len(x)}")
    ok = n == len(x) and top1 == ort1 and top5 == ort5
    table.add("mobilenetv2-12-fp32", f"eval top-1/top-5, {len(x)} ImageNet JPEGs", "ok" if ok else "FAIL",
              f"infera {pct(top1 / n)} / {pct(top5 / n)}, ORT {pct(ort1 / len(x))} / {pct(ort5 / len(x))}",
              "equal counts", t, ok=ok)


def test_cifar(env, table):
    model = env.model("resnet8-cifar10-fp32")
    t = Timer()
    with t:
        got = infera_eval(env, model, env.data("cifar10-test"), "--preprocess", "cifar",
                          "--limit", str(10 * CIFAR_PER_CLASS))
        x, labels = common.cifar_test(env, CIFAR_PER_CLASS)
        pad = -len(x) % CIFAR_BATCH
        xp = np.concatenate([x, np.repeat(x[-1:], pad, 0)])
        ref = np.concatenate([env.run_ort(model, [xp[s]])[0] for s in common.batches(len(xp), CIFAR_BATCH)])[:len(x)]
    n = got["samples"]
    top1 = round(got["accuracy"]["top1"] * n)
    ort1, _ = ort_counts(ref, labels)
    print(f"    CIFAR-10 ({n} images, class folders in turn): infera eval top-1 {top1}, ORT {ort1}")
    ok = n == len(x) and top1 == ort1
    table.add("resnet8-cifar10-fp32", f"eval top-1, {len(x)} CIFAR-10 JPEGs", "ok" if ok else "FAIL",
              f"infera {pct(top1 / n)}, ORT {pct(ort1 / len(x))}", "equal counts", t, ok=ok)


def test_cifar_full(env, table):
    t = Timer()
    with t:
        got = infera_eval(env, env.model("resnet8-cifar10-int8"), env.data("cifar10-test"), "--preprocess", "cifar",
                          "--baseline", env.model("resnet8-cifar10-fp32"))
    int8, fp32 = got["accuracy"]["top1"], got["baseline"]["accuracy"]["top1"]
    ok = got["samples"] == 10000 and abs(int8 - ORT_RESNET8_INT8) <= 0.002 and fp32 - int8 <= 0.005
    table.add("resnet8-cifar10-int8", "eval --baseline fp32, 10000 CIFAR-10 JPEGs", "ok" if ok else "FAIL",
              f"int8 {pct(int8)} (ORT {pct(ORT_RESNET8_INT8)}), fp32 {pct(fp32)}, agree {pct(got['agreement'])}",
              "ORT +-0.2 pt, fp32 - 0.5 pt", t, ok=ok)


def test_self_comparison(env, table):
    model = env.model("resnet8-cifar10-int8")
    t = Timer()
    with t:
        got = infera_eval(env, model, env.data("cifar10-test"), "--preprocess", "cifar", "--limit", "64",
                          "--baseline", model, "--per-layer", "--per-layer-samples", "32")
    layers = got["per_layer"]["values"]
    exact = all(v["sqnr_db"] is None and v["cosine"] == 1 for v in layers)
    ok = got["agreement"] == 1 and len(layers) > 0 and exact and got["per_layer"]["samples"] == 32
    table.add("resnet8-cifar10-int8", "eval --baseline itself --per-layer, 64 images", "ok" if ok else "FAIL",
              f"agreement {pct(got['agreement'])}, {len(layers)} values, all exact: {exact}",
              "100 %, exact", t, ok=ok)


def main():
    def body(env, table):
        for name, fn in (("mobilenetv2-12-fp32", test_imagenet), ("resnet8-cifar10-fp32", test_cifar),
                         ("resnet8-cifar10-int8", test_cifar_full), ("resnet8-cifar10-int8", test_self_comparison)):
            table.guarded(name, lambda: fn(env, table), "eval")
    return common.run_suite("infera eval on real data", body)


if __name__ == "__main__":
    sys.exit(main())
