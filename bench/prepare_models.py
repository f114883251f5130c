#!/usr/bin/python3
"""Writes the benchmark models into a cache directory, skipping those already there.

usage: /usr/bin/python3 bench/prepare_models.py [--infera BIN] CACHE_DIR NAME...

For each NAME: CACHE_DIR/NAME.onnx, the inputs as CACHE_DIR/NAME.inputs/<input>.npy, and (for models built in
PyTorch) PyTorch's output on them as CACHE_DIR/NAME.reference.npy. Models given as files are linked, not copied.
The int8 models of models.QUANTIZED are QDQ copies of their fp32 model written by make_qdq.py, which calibrates with
`BIN calibrate` (default build/infera); those of models.INFERA_QUANTIZED (int8 and bf16) are written by
`BIN quantize` with their flags, int8 calibrated on the benchmark input.
Exit status 0 when every model is ready; otherwise 1, with one line per failure on stderr.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def paths(cache, name):
    return os.path.join(cache, name + ".onnx"), os.path.join(cache, name + ".inputs")


def write_inputs(cache, name):
    _, input_dir = paths(cache, name)
    os.makedirs(input_dir, exist_ok=True)
    arrays = models.make_inputs(name)
    for input_name, array in arrays.items():
        np.save(os.path.join(input_dir, input_name + ".npy"), array)
    return arrays


def export(cache, name):
    import torch
    onnx_path, _ = paths(cache, name)
    arrays = write_inputs(cache, name)
    module = models.build_module(name)
    args = tuple(torch.from_numpy(a) for a in arrays.values())
    with torch.inference_mode():
        np.save(os.path.join(cache, name + ".reference.npy"), module(*args).numpy())
    tmp = onnx_path + ".tmp"  # a killed export must not leave a half-written model that looks ready
    with torch.no_grad():
        torch.onnx.export(module, args, tmp, input_names=list(arrays), output_names=["output"],
                          opset_version=models.OPSET, do_constant_folding=True)
    os.replace(tmp, onnx_path)


def link(cache, name):
    source, _ = models.FILE_MODELS[name]
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source} is missing (../shared is not checked out next to the project)")
    onnx_path, _ = paths(cache, name)
    write_inputs(cache, name)
    if os.path.lexists(onnx_path):
        os.remove(onnx_path)
    os.symlink(os.path.abspath(source), onnx_path)


def quantize(cache, name, infera):
    import subprocess
    base = models.QUANTIZED[name]
    if not os.path.exists(paths(cache, base)[0]):
        export(cache, base)
    arrays = write_inputs(cache, name)
    calib = os.path.join(paths(cache, name)[1], list(arrays)[0] + ".npy")
    tmp = paths(cache, name)[0] + ".tmp.onnx"
    done = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_qdq.py"),
                           infera, paths(cache, base)[0], calib, tmp], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"make_qdq.py failed: {(done.stderr or done.stdout).strip()}")
    os.replace(tmp, paths(cache, name)[0])


def infera_quantize(cache, name, infera):
    import subprocess
    base, flags = models.INFERA_QUANTIZED[name]
    if not os.path.exists(paths(cache, base)[0]):
        (export if models.has_module(base) else link)(cache, base)
    arrays = write_inputs(cache, name)
    calib = ["--calib", os.path.join(paths(cache, name)[1], list(arrays)[0] + ".npy")] if "int8" in flags else []
    tmp = paths(cache, name)[0] + ".tmp.onnx"
    done = subprocess.run([infera, "quantize", paths(cache, base)[0], "-o", tmp, *flags, *calib],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"infera quantize failed: {(done.stderr or done.stdout).strip()}")
    os.replace(tmp, paths(cache, name)[0])


def main():
    args = sys.argv[1:]
    infera = os.path.join(models.REPO, "build", "infera")
    if args[:1] == ["--infera"] and len(args) > 1:
        infera, args = args[1], args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    cache, names = args[0], args[1:]
    os.makedirs(cache, exist_ok=True)
    failed = 0
    for name in names:
        if name not in models.ALL:
            print(f"{name}: unknown model (known: {', '.join(models.ALL)})", file=sys.stderr)
            failed += 1
            continue
        if os.path.exists(paths(cache, name)[0]):
            continue
        try:
            if name in models.QUANTIZED:
                quantize(cache, name, infera)
            elif name in models.INFERA_QUANTIZED:
                infera_quantize(cache, name, infera)
            else:
                (export if models.has_module(name) else link)(cache, name)
            print(f"prepared {name}", file=sys.stderr)
        except Exception as e:  # one model failing must not stop the others
            print(f"{name}: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
