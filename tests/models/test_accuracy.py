#!/usr/bin/python3
"""Accuracy of infera on real data sets.

usage: /usr/bin/python3 test_accuracy.py INFERA_BIN [SHARED_DIR]

- MNIST: mnist-8-opt on all 10,000 test images (raw pixels 0-255): top-1 >= 98.9 % (ONNX Runtime: 98.91 %).
  The model's batch is fixed at 1 (input 1x1x28x28, and a Reshape to the constant shape [1, 256]), so the test
  runs a batched copy made here with the onnx package: input batch dimension made symbolic and the Reshape's
  shape constant changed from [1, 256] to [-1, 256]; nothing else changes, so each image sees exactly the same
  computation. The copy is checked against the original model, image by image, on the first 16 images.
- ImageNet: mobilenetv2-12-fp32 on the 500-image sample (preprocessed once, cached in the build directory):
  infera's top-1 accuracy must equal ONNX Runtime's on the same tensors, with >= 99 % image-by-image agreement
  of the top-1 class. Both accuracies (top-1 and top-5) and the agreement are printed.
Exits 0 when all pass, 1 on any failure, 77 (skip) without ../shared or ONNX Runtime.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: skips cleanly without numpy)
import numpy as np  # noqa: E402
from common import Timer, compare, pct  # noqa: E402

MNIST_MIN_TOP1 = 0.989
MNIST_BATCH = 1000
IMAGENET_BATCH = 50
IMAGENET_MIN_AGREE = 0.99


def batched_mnist_model(env):
    """A copy of mnist-8-opt with a symbolic batch dimension (see the module docstring), cached."""
    import onnx
    from onnx import numpy_helper
    src = env.model("mnist-8-opt")
    dst = os.path.join(env.cache, "mnist-8-opt-batched.onnx")
    if os.path.isfile(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return src, dst
    m = onnx.load(src)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "N"
    changed = 0
    for init in m.graph.initializer:
        if init.name.endswith("_reshape0_shape"):
            shape = numpy_helper.to_array(init)
            assert list(shape) == [1, 256], shape
            init.CopyFrom(numpy_helper.from_array(np.array([-1, 256], np.int64), init.name))
            changed += 1
    assert changed == 1, "mnist-8-opt: expected exactly one Reshape shape constant [1, 256]"
    del m.graph.value_info[:]  # intermediate shapes recorded with batch 1
    onnx.checker.check_model(m)
    onnx.save(m, f"{dst}.{os.getpid()}.tmp")
    os.replace(f"{dst}.{os.getpid()}.tmp", dst)
    return src, dst


def test_mnist(env, table):
    t = Timer()
    with t:
        images, labels = common.mnist_test(env)
        x = images[:, None].astype(np.float32)  # [10000,1,28,28], raw 0..255
        src, batched = batched_mnist_model(env)
        # The batched copy against the original, one image at a time.
        per_image = env.run_infera_many(src, [x[:16, None]])[0].reshape(16, 10)
        first = env.run_infera(batched, [x[:16]])[0]
        same_ok, same_rel, note = compare(first, per_image, 1e-5)
        logits = np.concatenate([env.run_infera(batched, [x[s]])[0] for s in common.batches(len(x), MNIST_BATCH)])
        ref = np.concatenate([env.run_ort(batched, [x[s]])[0] for s in common.batches(len(x), MNIST_BATCH)])
    top1 = float((logits.argmax(1) == labels).mean())
    top1_ort = float((ref.argmax(1) == labels).mean())
    agree = float((logits.argmax(1) == ref.argmax(1)).mean())
    print(f"    MNIST: infera {pct(top1)}, ORT {pct(top1_ort)}, agreement {pct(agree)}; "
          f"batched copy vs original model on 16 images: rel {same_rel:.1e}")
    table.add("mnist-8-opt", "batched copy == original, 16 images", "ok" if same_ok else "FAIL",
              f"rel {same_rel:.1e} {note}".strip(), "1e-05", "", ok=same_ok)
    table.add("mnist-8-opt", "top-1, 10000 MNIST test images", "ok" if top1 >= MNIST_MIN_TOP1 else "FAIL",
              f"infera {pct(top1)} (ORT {pct(top1_ort)}, agree {pct(agree)})", f">= {pct(MNIST_MIN_TOP1)}", t,
              ok=top1 >= MNIST_MIN_TOP1)


def test_imagenet(env, table):
    path = env.model("mobilenetv2-12-fp32")
    t = Timer()
    with t:
        x, labels, files = common.imagenet_sample(env)
        got, ref = [], []
        for s in common.batches(len(x), IMAGENET_BATCH):
            xb = np.ascontiguousarray(x[s])
            got.append(env.run_infera(path, [xb])[0])
            ref.append(env.run_ort(path, [xb])[0])
        got, ref = np.concatenate(got), np.concatenate(ref)
    a, b = got.argmax(1), ref.argmax(1)
    top1, top1_ort = float((a == labels).mean()), float((b == labels).mean())
    top5 = float((np.argsort(-got, 1)[:, :5] == labels[:, None]).any(1).mean())
    top5_ort = float((np.argsort(-ref, 1)[:, :5] == labels[:, None]).any(1).mean())
    agree = float((a == b).mean())
    rel = common.rel_error(got, ref)
    print(f"    ImageNet sample ({len(x)} images): top-1 infera {pct(top1)}, ORT {pct(top1_ort)}; "
          f"top-5 infera {pct(top5)}, ORT {pct(top5_ort)}; top-1 agreement {pct(agree)}; logits rel {rel:.1e}")
    for i in np.nonzero(a != b)[0]:
        print(f"      differs: {files[i]} label {labels[i]}: infera {a[i]}, ORT {b[i]}")
    ok = top1 == top1_ort and agree >= IMAGENET_MIN_AGREE
    table.add("mobilenetv2-12-fp32", f"top-1, {len(x)} ImageNet images", "ok" if ok else "FAIL",
              f"infera {pct(top1)}, ORT {pct(top1_ort)}, agree {pct(agree)} (top-5 {pct(top5)} / {pct(top5_ort)})",
              f"equal, agree >= {pct(IMAGENET_MIN_AGREE)}", t, ok=ok)


def main():
    def body(env, table):
        for name, fn in (("mnist-8-opt", test_mnist), ("mobilenetv2-12-fp32", test_imagenet)):
            table.guarded(name, lambda: fn(env, table), "accuracy")
    return common.run_suite("infera accuracy on real data", body)


if __name__ == "__main__":
    sys.exit(main())
