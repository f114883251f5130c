#!/usr/bin/python3
"""Times PyTorch on one benchmark model: the nn.Module the ONNX file was exported from, rebuilt with the same seed.

usage: /usr/bin/python3 bench/torch_bench.py CACHE_DIR NAME [--threads T] [--iters N] [--warmup W]

Runs under torch.inference_mode() with torch.set_num_threads(T) and one inter-op thread, on the inputs in
CACHE_DIR/NAME.inputs/. Prints one JSON object: latencies, build and first-run times, peak RSS, and the largest
difference from the output saved at export (which shows that the rebuilt module is the exported one).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("name")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    if not models.has_module(a.name):
        sys.exit(f"{a.name}: no PyTorch module (the model is only given as an ONNX file)")

    import torch
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    input_dir = os.path.join(a.cache, a.name + ".inputs")
    inputs = [torch.from_numpy(np.load(os.path.join(input_dir, n + ".npy"))) for n in models.make_inputs(a.name)]

    start = time.perf_counter()
    module = models.build_module(a.name)
    build_ms = (time.perf_counter() - start) * 1e3
    latencies = []
    with torch.inference_mode():
        start = time.perf_counter()
        output = module(*inputs)
        first_run_ms = (time.perf_counter() - start) * 1e3
        for _ in range(a.warmup):
            module(*inputs)
        for _ in range(a.iters):
            start = time.perf_counter()
            module(*inputs)
            latencies.append((time.perf_counter() - start) * 1e3)

    reference = os.path.join(a.cache, a.name + ".reference.npy")
    max_abs_diff = float(np.abs(output.numpy() - np.load(reference)).max()) if os.path.exists(reference) else None
    print(json.dumps({
        "engine": "pytorch", "version": torch.__version__, "model": a.name, "threads": a.threads,
        "startup_ms": build_ms, "first_run_ms": first_run_ms, "latencies_ms": latencies,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
        "max_abs_diff": max_abs_diff,
    }))


if __name__ == "__main__":
    main()
