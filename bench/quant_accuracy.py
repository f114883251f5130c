#!/usr/bin/python3
"""Accuracy of infera's int8 post-training quantization on real data, next to the released int8 models, with the
same QDQ files run in ONNX Runtime.

usage: /usr/bin/python3 bench/quant_accuracy.py [--infera build/infera] [--shared ../shared]
           [--models mobilenetv2-12] [--methods entropy,mse] [--threads 1] [--cache build/bench-cache/quant]
           [--out bench/results/quant_accuracy.json]

For each network (NETWORKS: the fp32 and released int8 files in ../shared/models and their data set):
1. The data set is preprocessed once in Python (tests/models/common.py: PIL decoding, the preprocessing of
   ../shared/README.md) and saved as .npy, so that every engine sees the same arrays. The calibration images are a
   fixed part of it: ImageNet sample: the first 100 of the 500 images; CIFAR-10 (there is no training split here):
   files 0900-0999 of each class, 1000 images. Accuracy is given on all images ("top-1") and on the images not used
   for calibration ("held-out").
2. `infera quantize FP32 --precision int8 --per-channel --method M --calib calib.npy` for each method.
3. infera: `infera eval MODEL --baseline FP32 --data images.npy --labels labels.npy` gives top-1 and agreement with
   infera's fp32 (run on the held-out and the calibration images apart, then added up); a second `infera eval` with
   ONNX Runtime's predictions as labels gives the image-by-image agreement between the engines.
4. ONNX Runtime 1.30 (node, as tests/models/common.py runs it) on the same files: top-1 and agreement with ORT's
   fp32.
Prints one table and writes the JSON. Agreement is top-1 agreement with the fp32 model in the same engine.
torch_ptq.py imports this file and adds PyTorch's post-training quantization to the same table.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "models"))
import common  # noqa: E402  (the real-model tests' helpers: data sets, ONNX Runtime runner)

METHODS = ("minmax", "entropy", "mse", "percentile")
IMAGENET_CALIB = 100
CIFAR_CALIB_PER_CLASS = 100
# network -> (fp32 file, released int8 file, data set) in ../shared/models
NETWORKS = {
    "mobilenetv2-12": ("mobilenetv2-12-fp32", "mobilenetv2-12-int8", "imagenet"),
    "resnet8-cifar10": ("resnet8-cifar10-fp32", "resnet8-cifar10-int8", "cifar"),
    "mobilenetv2-cifar10": ("mobilenetv2-cifar10-fp32", "mobilenetv2-cifar10-int8", "cifar"),
}


class Dataset:
    """Preprocessed images x [N, C, H, W], labels [N], and which of them calibrate (`calib`, a boolean mask)."""

    def __init__(self, name, x, labels, calib, folder):
        self.name, self.x, self.labels, self.calib = name, x, labels, calib
        self.paths = {}
        os.makedirs(folder, exist_ok=True)
        for part, mask in (("all", None), ("calib", calib), ("heldout", ~calib)):
            xp = os.path.join(folder, f"{name}-{part}-x.npy")
            yp = os.path.join(folder, f"{name}-{part}-y.npy")
            if not os.path.isfile(xp):
                np.save(xp, x if mask is None else x[mask])
                np.save(yp, labels if mask is None else labels[mask])
            self.paths[part] = (xp, yp)

    def describe(self):
        return {"images": int(len(self.x)), "calibration_images": int(self.calib.sum()),
                "held_out_images": int((~self.calib).sum()), "calibration": CALIB_NOTE[self.name]}


CALIB_NOTE = {
    "imagenet": f"the first {IMAGENET_CALIB} of the 500 ImageNet-sample images (labels.tsv order)",
    "cifar": f"CIFAR-10 test files {1000 - CIFAR_CALIB_PER_CLASS:04d}-0999 of each class (no training split is "
             "available here)",
}


def load_dataset(env, kind, folder):
    if kind == "imagenet":
        x, labels, _ = common.imagenet_sample(env)
        calib = np.arange(len(x)) < IMAGENET_CALIB
    else:
        x, labels = common.cifar_test(env, 1000)  # image i is file i // 10 of class i % 10
        calib = np.arange(len(x)) >= len(x) - 10 * CIFAR_CALIB_PER_CLASS
    return Dataset(kind, np.ascontiguousarray(x), labels, calib, folder)


class Harness:
    """infera (CLI) and ONNX Runtime on preprocessed arrays; files go to `cache`."""

    def __init__(self, infera, shared, cache, threads):
        os.environ["INFERA_TEST_CACHE"] = cache  # ORT outputs and preprocessed images are cached there
        argv, sys.argv = sys.argv, [sys.argv[0], infera, shared]
        try:
            self.env = common.Env()
        finally:
            sys.argv = argv
        self.env.need_ort()
        self.cache, self.threads = cache, str(threads)
        self._datasets = {}

    def dataset(self, kind):
        if kind not in self._datasets:
            self._datasets[kind] = load_dataset(self.env, kind, os.path.join(self.cache, "data"))
        return self._datasets[kind]

    def infera(self, *args):
        r = subprocess.run([self.env.infera, *args, "--threads", self.threads, "--json"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise common.InferaError((r.stderr.strip() or r.stdout.strip() or "failed").splitlines()[-1])
        return json.loads(r.stdout)

    def quantize(self, fp32, method, data):
        out = os.path.join(self.cache, f"{os.path.basename(fp32)[:-5]}-int8-{method}.onnx")
        report = self.infera("quantize", fp32, "-o", out, "--precision", "int8", "--per-channel", "--method", method,
                             "--calib", data.paths["calib"][0])
        return out, report

    def infera_eval(self, model, fp32, data, ort_predictions):
        """top-1 and agreement with infera's fp32, on all images and held out; agreement with ORT's predictions."""
        parts = {p: self.infera("eval", model, "--baseline", fp32, "--data", data.paths[p][0],
                                "--labels", data.paths[p][1]) for p in ("heldout", "calib")}
        count = {p: parts[p]["samples"] for p in parts}
        n = sum(count.values())
        top1 = {p: parts[p]["accuracy"]["top1"] for p in parts}
        agree = {p: parts[p]["agreement"] for p in parts}
        return {"top1": sum(top1[p] * count[p] for p in parts) / n, "top1_heldout": top1["heldout"],
                "agree_fp32": sum(agree[p] * count[p] for p in parts) / n, "agree_fp32_heldout": agree["heldout"],
                "agree_infera_ort": None if ort_predictions is None else
                self.agreement_with(model, data, ort_predictions)}

    def agreement_with(self, model, data, predictions):
        """infera's top-1 agreement with another engine's predictions: `infera eval` with them as the labels."""
        labels = os.path.join(self.cache, f"predictions-{os.path.basename(model)[:-5]}.npy")
        np.save(labels, predictions)
        return self.infera("eval", model, "--data", data.paths["all"][0], "--labels", labels)["accuracy"]["top1"]

    def ort_logits(self, model, x):
        """ONNX Runtime's logits on x; models with a fixed batch B run on B images at a time (x padded)."""
        batch = fixed_batch(model)
        if batch:
            pad = -len(x) % batch
            xp = np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x
            stacked = xp.reshape(len(xp) // batch, batch, *x.shape[1:])
            out = self.env.run_ort(model, [stacked], many=True)[0]
            return out.reshape(len(xp), -1)[:len(x)]
        return np.concatenate([self.env.run_ort(model, [np.ascontiguousarray(x[s])])[0].reshape(s.stop - s.start, -1)
                               for s in common.batches(len(x), 50)])


def fixed_batch(model):
    import onnx
    graph = onnx.load(model, load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    dim = next(i for i in graph.input if i.name not in inits).type.tensor_type.shape.dim[0]
    return dim.dim_value if dim.HasField("dim_value") else None


def scores(predictions, data, reference):
    """top-1 (all, held out) and agreement with the reference predictions (all, held out)."""
    held = ~data.calib
    return {"top1": float((predictions == data.labels).mean()),
            "top1_heldout": float((predictions[held] == data.labels[held]).mean()),
            "agree_fp32": float((predictions == reference).mean()),
            "agree_fp32_heldout": float((predictions[held] == reference[held]).mean())}


def measure_network(h, network, methods, log=print):
    """The rows of one network: fp32, released int8 and infera's int8 per method, each in infera and ORT."""
    fp32_name, released_name, kind = NETWORKS[network]
    data = h.dataset(kind)
    fp32, released = h.env.model(fp32_name), h.env.model(released_name)
    rows = []

    def add(row):
        rows.append(row)
        log("  " + format_row(row))

    ort_fp32 = h.ort_logits(fp32, data.x).argmax(1)
    add(dict(model=network, variant="fp32", engine="onnxruntime", **scores(ort_fp32, data, ort_fp32)))
    infera_fp32 = {p: h.infera("eval", fp32, "--data", data.paths[p][0], "--labels", data.paths[p][1])["accuracy"]
                   ["top1"] for p in ("all", "heldout")}
    add(dict(model=network, variant="fp32", engine="infera", top1=infera_fp32["all"],
             top1_heldout=infera_fp32["heldout"], agree_infera_ort=h.agreement_with(fp32, data, ort_fp32)))
    candidates = [("released int8", released, None)]
    for method in methods:
        path, report = h.quantize(fp32, method, data)
        candidates.append((f"infera int8 {method}", path, report))
    for variant, path, report in candidates:
        try:
            ort = h.ort_logits(path, data.x).argmax(1)
        except RuntimeError as e:  # ORT refuses the file: recorded, and infera's numbers are still measured
            ort, ort_error = None, str(e).splitlines()[-1]
        ours = h.infera_eval(path, fp32, data, ort)
        extra = {"quantized_nodes": len(report["quantized"]), "file": os.path.basename(path)} if report else {}
        add(dict(model=network, variant=variant, engine="infera", **ours, **extra))
        if ort is None:
            add(dict(model=network, variant=variant, engine="onnxruntime", error=ort_error))
        else:
            add(dict(model=network, variant=variant, engine="onnxruntime", **scores(ort, data, ort_fp32),
                     agree_infera_ort=ours["agree_infera_ort"]))
    return data, rows


COLUMNS = (("model", "model", "{}"), ("variant", "variant", "{}"), ("engine", "engine", "{}"),
           ("top1", "top-1", "{:.2%}"), ("top1_heldout", "top-1 held-out", "{:.2%}"),
           ("agree_fp32", "agree fp32", "{:.2%}"), ("agree_fp32_heldout", "agree fp32 held-out", "{:.2%}"),
           ("agree_infera_ort", "infera=ORT", "{:.2%}"))


def row_cells(row):
    cells = [fmt.format(row[k]) if row.get(k) is not None else "" for k, _, fmt in COLUMNS]
    if row.get("error"):
        cells[3] = "ERROR (below)"
    return cells


def format_row(row):
    return " | ".join(row_cells(row)) + (f" | {row['error']}" if row.get("error") else "")


def print_table(rows):
    cells = [[title for _, title, _ in COLUMNS]] + [row_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    for i, line in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        if r.get("error"):
            print(f"ERROR {r['model']}, {r['variant']}, {r['engine']}: {r['error']}")


def parse_args(description, default_models, default_methods, default_out):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--infera", default=os.path.join(REPO, "build", "infera"))
    p.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    p.add_argument("--models", default=default_models, help="comma-separated: " + ", ".join(NETWORKS))
    p.add_argument("--methods", default=default_methods, help="comma-separated: " + ", ".join(METHODS))
    # one thread: the batch-1 CIFAR models run ~8x slower with two OpenMP threads on this shared 2-core machine
    p.add_argument("--threads", type=int, default=1, help="threads for infera")
    p.add_argument("--torch-engines", default="onednn", help="torch_ptq.py: PyTorch quantized engines")
    p.add_argument("--torch-threads", type=int, default=2, help="torch_ptq.py: PyTorch threads")
    p.add_argument("--cache", default=os.path.join(REPO, "build", "bench-cache", "quant"))
    p.add_argument("--out", default=default_out)
    args = p.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    args.methods = [m for m in args.methods.split(",") if m]
    for m in args.models:
        if m not in NETWORKS:
            p.error(f"unknown model {m}")
    for m in args.methods:
        if m not in METHODS:
            p.error(f"unknown method {m}")
    return args


def header(args, h):
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "infera": os.path.abspath(args.infera), "threads": args.threads, "methods": args.methods,
            "quantize_flags": "--precision int8 --per-channel --method M --calib CALIB.npy",
            "datasets": {kind: h.dataset(kind).describe() for kind in
                         sorted({NETWORKS[m][2] for m in args.models})}}


def write_json(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


def main():
    args = parse_args("Accuracy of infera int8 quantization, in infera and ONNX Runtime", "mobilenetv2-12",
                      "entropy,mse", os.path.join(REPO, "bench", "results", "quant_accuracy.json"))
    h = Harness(args.infera, args.shared, args.cache, args.threads)
    result = header(args, h)
    result["rows"] = []
    for network in args.models:
        print(f"{network}:")
        _, rows = measure_network(h, network, args.methods)
        result["rows"] += rows
    print()
    print_table(result["rows"])
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
