#!/usr/bin/python3
"""`infera quantize` on the CIFAR-10 networks: int8 accuracy next to fp32, in infera and in ONNX Runtime.

usage: /usr/bin/python3 test_cifar_quantize.py INFERA_BIN [SHARED_DIR]

For resnet8-cifar10-fp32 and mobilenetv2-cifar10-fp32 (../shared/models), and the methods entropy and mse:
`infera quantize FP32 --precision int8 --per-channel --method M --calib calib.npy`, calibrating on 1000 CIFAR-10
test images (files 0900-0999 of each class: there is no training split here), then on 2000 other test images
(files 0000-0199 of each class):
- `infera eval INT8 --baseline FP32`: int8 top-1 >= fp32 top-1 - 1 pt and top-1 agreement with fp32 >= 97 %;
- ONNX Runtime on the same int8 file: top-1 >= fp32 - 1 pt (the file is standard ONNX).
The issue's target (within 0.5 pt of fp32 on all 10,000 images) is measured by bench/torch_ptq.py; on these 2000
images a difference of 0.5 pt is 10 images, so the test's bound is looser. Measured (2000 images): every case within
0.3 pt of fp32 and >= 98.6 % agreement.
infera runs with one thread: the batch-1 MobileNetV2 runs about 8x slower with two OpenMP threads on a busy 2-core
machine. Exits 0 when all pass, 1 on any failure, 77 (skip) without ../shared or ONNX Runtime.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: skips cleanly without numpy)
import numpy as np  # noqa: E402
from common import Timer, pct  # noqa: E402

MODELS = ("resnet8-cifar10-fp32", "mobilenetv2-cifar10-fp32")
METHODS = ("entropy", "mse")
CALIB_FIRST_FILE = 900  # files 0900-0999 of each class calibrate
EVAL_PER_CLASS = 200  # files 0000-0199 of each class are evaluated
MAX_DROP = 0.01
MIN_AGREEMENT = 0.97


def infera(env, *args):
    return json.loads(env.infera_cli(*args, "--threads", "1", "--json", threads=False))


def data_files(env):
    """(calibration .npy, evaluation images .npy, evaluation labels .npy) in the cache folder."""
    x, y = common.cifar_test(env, 1000)  # image i is file i // 10 of class i % 10
    paths = [os.path.join(env.cache, f"cifar10-{name}.npy") for name in ("calib", "eval-x", "eval-y")]
    arrays = (x[10 * CALIB_FIRST_FILE:], x[:10 * EVAL_PER_CLASS], y[:10 * EVAL_PER_CLASS])
    for path, a in zip(paths, arrays):
        if not os.path.isfile(path):
            tmp = f"{path}.{os.getpid()}.tmp.npy"
            np.save(tmp, a)
            os.replace(tmp, path)
    return paths


def fixed_batch(model):
    """The batch the model's input is fixed at (resnet8: 16, mobilenetv2-cifar10: 1)."""
    import onnx
    graph = onnx.load(model).graph
    inits = {t.name for t in graph.initializer}
    return next(i for i in graph.input if i.name not in inits).type.tensor_type.shape.dim[0].dim_value


def ort_top1(env, model, x, labels):
    batch = fixed_batch(model)
    stacked = x.reshape(len(x) // batch, batch, *x.shape[1:])
    logits = env.run_ort(model, [stacked], many=True)[0].reshape(len(x), -1)
    return float((logits.argmax(1) == labels).mean())


def check(env, table, fp32_name, method, files):
    calib, eval_x, eval_y = files
    fp32 = env.model(fp32_name)
    out = os.path.join(env.cache, f"cifar-quantize-{fp32_name}-int8-{method}.onnx")
    t = Timer()
    with t:
        report = infera(env, "quantize", fp32, "-o", out, "--precision", "int8", "--per-channel", "--method", method,
                        "--calib", calib)
        got = infera(env, "eval", out, "--baseline", fp32, "--data", eval_x, "--labels", eval_y)
        ort = ort_top1(env, out, np.load(eval_x), np.load(eval_y))
    top1, base, agree = got["accuracy"]["top1"], got["baseline"]["accuracy"]["top1"], got["agreement"]
    print(f"    {fp32_name} {method}: {len(report['quantized'])} nodes quantized on "
          f"{report['calibration_samples']} images; top-1 int8 {pct(top1)} (ORT {pct(ort)}), fp32 {pct(base)}, "
          f"agreement {pct(agree)}")
    ok = report["calibration_samples"] == 1000 and got["samples"] == 10 * EVAL_PER_CLASS and \
        min(top1, ort) >= base - MAX_DROP and agree >= MIN_AGREEMENT
    table.add(fp32_name, f"int8 {method}, {got['samples']} images", "ok" if ok else "FAIL",
              f"int8 {pct(top1)} / ORT {pct(ort)}, fp32 {pct(base)}, agree {pct(agree)}",
              f"fp32 - {100 * MAX_DROP:.0f} pt, agree >= {pct(MIN_AGREEMENT)}", t, ok=ok)


def main():
    def body(env, table):
        files = data_files(env)
        for name in MODELS:
            for method in METHODS:
                table.guarded(name, lambda: check(env, table, name, method, files), f"int8 {method}")
    return common.run_suite("infera quantize int8 on the CIFAR-10 networks (infera and ONNX Runtime)", body)


if __name__ == "__main__":
    sys.exit(main())
