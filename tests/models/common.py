"""Helpers shared by the real-model tests (tests/models/test_*.py).

Every test script is run as
    /usr/bin/python3 test_x.py INFERA_BIN [SHARED_DIR]
(or with the environment variables INFERA_BIN and INFERA_SHARED). SHARED_DIR defaults to ../shared next to
the project root. A script exits with SKIP (77) when what it needs (the shared models and data, ONNX Runtime,
PyTorch) is not there, with 1 when any check fails and with 0 otherwise.

Comparison metric for float outputs (`compare`): with ref the reference output and tol the relative tolerance
(1e-4 for fp32), the check is np.allclose(out, ref, rtol=tol, atol=tol * max|ref|), that is
|out - ref| <= tol * (|ref| + max|ref|) elementwise. Reported as "rel": max|out - ref| / max|ref|.

Caches (preprocessed images, ONNX Runtime reference outputs, exported models) live in
$INFERA_TEST_CACHE or else <directory of INFERA_BIN>/test-cache, i.e. the build directory.
"""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
try:
    import numpy as np
except ImportError:  # a Python without numpy (e.g. not /usr/bin/python3): nothing can be checked
    print(f"SKIP: numpy not importable with {sys.executable}")
    sys.exit(SKIP)

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32)
CIFAR_STD = np.array([0.247, 0.243, 0.261], np.float32)


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


class InferaError(RuntimeError):
    """infera exited non-zero; the message is its last line of output (e.g. an unsupported op)."""


class Env:
    """Where things are: the infera binary, the shared folder, the cache folder."""

    def __init__(self, need_shared=True):
        args = sys.argv[1:]
        self.infera = os.path.abspath(args[0] if args else os.environ.get("INFERA_BIN", ""))
        if not os.environ.get("INFERA_BIN") and not args:
            skip("no infera binary given (argument 1 or INFERA_BIN)")
        if not (os.path.isfile(self.infera) and os.access(self.infera, os.X_OK)):
            print(f"FAIL: infera binary {self.infera} not found or not executable")
            sys.exit(1)
        self.shared = os.path.abspath(args[1] if len(args) > 1 else
                                      os.environ.get("INFERA_SHARED", os.path.join(PROJECT, "..", "shared")))
        if need_shared and not os.path.isdir(os.path.join(self.shared, "models")):
            skip(f"shared models not found in {self.shared}")
        self.cache = os.environ.get("INFERA_TEST_CACHE") or os.path.join(os.path.dirname(self.infera), "test-cache")
        os.makedirs(self.cache, exist_ok=True)
        self.threads = os.environ.get("INFERA_THREADS")  # passed as --threads when set
        self._ort_dir = None

    def model(self, name):
        return os.path.join(self.shared, "models", name if name.endswith(".onnx") else name + ".onnx")

    def data(self, *parts):
        return os.path.join(self.shared, "data", *parts)

    # ---- ONNX Runtime (the reference engine, through node) ----
    def need_ort(self):
        """Installs ONNX Runtime (node) if needed with shared/peers/setup-ort.sh; skips the test if impossible."""
        if self._ort_dir:
            return self._ort_dir
        if not shutil.which("node"):
            skip("node not found (ONNX Runtime is run through onnxruntime-node)")
        setup = os.path.join(self.shared, "peers", "setup-ort.sh")
        if not os.path.isfile(setup):
            skip(f"{setup} not found")
        r = subprocess.run(["bash", setup], capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.strip():
            skip(f"ONNX Runtime setup failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        self._ort_dir = r.stdout.strip().splitlines()[-1]
        return self._ort_dir

    def run_ort(self, model, inputs, many=False, cache=True):
        """ONNX Runtime's outputs for `inputs` (list of arrays in graph-input order, or of (name, array)).
        many=True: each input holds the inputs of several runs stacked along a new leading axis; the model is run
        once per entry (in one process, tests/models/ort_many.js) and the outputs come back stacked the same way.
        Cached in the cache folder by a hash of the model file and the inputs (ORT's CPU results are deterministic)."""
        ort_dir = self.need_ort()
        inputs = _named(inputs)
        key = None
        if cache:
            h = hashlib.sha1((_file_digest(model) + ("|many" if many else "")).encode())
            for name, a in inputs:
                h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())
            key = os.path.join(self.cache, "ort", h.hexdigest() + ".npz")
            if os.path.isfile(key):
                with np.load(key) as z:
                    return [z[f"o{i}"] for i in range(len(z.files))]
        with tempfile.TemporaryDirectory(prefix="infera-ort-") as tmp:
            args = _write_inputs(tmp, inputs)
            out = os.path.join(tmp, "out")
            env = dict(os.environ, ORT_DIR=ort_dir)
            script = os.path.join(HERE, "ort_many.js") if many else os.path.join(self.shared, "peers", "ort-run.js")
            r = subprocess.run(["node", script, model, out] + args,
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise RuntimeError(f"ONNX Runtime failed on {os.path.basename(model)}: {r.stderr.strip()[-500:]}")
            outs = _read_outputs(out)
        if key:
            os.makedirs(os.path.dirname(key), exist_ok=True)
            tmp = f"{key}.{os.getpid()}.tmp.npz"  # tests may run in parallel: unique name, atomic rename
            np.savez(tmp, **{f"o{i}": o for i, o in enumerate(outs)})
            os.replace(tmp, key)
        return outs

    # ---- infera ----
    def infera_cli(self, *args, threads=True):
        """stdout of `infera ARGS`, with the suite's --threads when `threads` and one is set. Raises InferaError
        with infera's message when it exits non-zero."""
        cmd = [self.infera] + [str(a) for a in args]
        if threads and self.threads:
            cmd += ["--threads", str(self.threads)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
            raise InferaError(msg[-1] if msg else f"exit code {r.returncode}")
        return r.stdout

    def run_infera(self, model, inputs, shapes=None, extra=()):
        """infera's outputs for `inputs` (list of arrays in graph-input order, or of (name, array) pairs).
        Raises InferaError with infera's message when it exits non-zero."""
        with tempfile.TemporaryDirectory(prefix="infera-run-") as tmp:
            args = ["run", model]
            for a in _write_inputs(tmp, _named(inputs)):
                args += ["--input", a]
            for name, shape in (shapes or {}).items():
                args += ["--shape", f"{name}={'x'.join(str(d) for d in shape)}"]
            out = os.path.join(tmp, "out")
            self.infera_cli(*args, "--output-dir", out, *extra)
            return _read_outputs(out)

    def run_infera_many(self, model, inputs, shapes=None):
        """Like run_ort(many=True): one `infera run` per entry of the stacked inputs, outputs stacked."""
        named = _named(inputs)
        runs = [self.run_infera(model, [(name, a[i]) if name else a[i] for name, a in named], shapes)
                for i in range(named[0][1].shape[0])]
        return [np.stack([r[k] for r in runs]) for k in range(len(runs[0]))]


def _named(inputs):
    return [x if isinstance(x, tuple) else (None, x) for x in inputs]


def _write_inputs(folder, named):
    args = []
    for i, (name, a) in enumerate(named):
        path = os.path.join(folder, f"input_{i}.npy")
        np.save(path, np.ascontiguousarray(a))
        args.append(f"{name}={path}" if name else path)
    return args


def _read_outputs(folder):
    with open(os.path.join(folder, "outputs.json")) as f:
        names = json.load(f)
    return [np.load(os.path.join(folder, f"output_{i}.npy")) for i in range(len(names))]


_digests = {}


def _file_digest(path):
    st = os.stat(path)
    k = (path, st.st_size, st.st_mtime_ns)
    if k not in _digests:
        h = hashlib.sha1()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[k] = h.hexdigest()
    return _digests[k]


# ---- comparison ----
def rel_error(out, ref):
    """max|out - ref| / max|ref| (inf on a shape mismatch)."""
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return float("inf")
    if out.size == 0:
        return 0.0
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    if np.isnan(diff).any():
        return float("nan")
    return float(diff.max() / max(float(np.abs(ref.astype(np.float64)).max()), 1e-30))


def compare(out, ref, tol=1e-4):
    """(ok, rel, note): elementwise |out - ref| <= tol * (|ref| + max|ref|), same shape and dtype kind."""
    out, ref = np.asarray(out), np.asarray(ref)
    if out.shape != ref.shape:
        return False, float("inf"), f"shape {list(out.shape)} != {list(ref.shape)}"
    if out.dtype != ref.dtype:
        return False, float("inf"), f"dtype {out.dtype} != {ref.dtype}"
    if out.dtype.kind not in "fc":
        same = bool(np.array_equal(out, ref))
        return same, 0.0 if same else float("inf"), "" if same else "integer outputs differ"
    rel = rel_error(out, ref)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    ok = bool(np.allclose(out, ref, rtol=tol, atol=tol * scale))
    return ok, rel, ""


# ---- reporting ----
class Table:
    """Collects one row per check and prints them as an aligned table; `failed` says whether any row failed."""

    def __init__(self, title, columns=("model", "check", "result", "measure", "limit", "time")):
        self.title, self.columns, self.rows, self.failed = title, columns, [], False
        self.errors = []  # (model, infera's message)

    def guarded(self, model, fn, what=""):
        """Runs fn(), which adds its own rows; an infera error or any other exception (a bug in the test or in the
        reference run) becomes a failed row instead, and the test goes on with the next check."""
        blanks = [""] * (len(self.columns) - 4)
        try:
            fn()
        except InferaError as e:
            self.errors.append((model, str(e)))
            self.add(model, what, "FAIL", f"infera: {e}", *blanks, ok=False)
        except Exception as e:
            traceback.print_exc()
            self.add(model, what, "ERROR", f"{type(e).__name__}: {e}", *blanks, ok=False)

    def finish(self, total):
        """Prints the table, infera's error messages and the total time; returns the exit code."""
        rc = self.print()
        for model, msg in self.errors:
            print(f"  infera error on {model}: {msg}")
        print(f"total time {total}")
        return rc

    def add(self, *cells, ok=True):
        self.rows.append([str(c) for c in cells])
        self.failed |= not ok
        print("  " + " | ".join(str(c) for c in cells), flush=True)

    def print(self):
        widths = [max([len(c)] + [len(r[i]) for r in self.rows if i < len(r)]) for i, c in enumerate(self.columns)]
        line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        print(f"\n{self.title}")
        print(line(self.columns))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in self.rows:
            print(line(r + [""] * (len(widths) - len(r))))
        bad = sum(1 for r in self.rows if r[self.columns.index("result")] not in ("ok", "skip"))
        n = len(self.rows)
        print(f"FAILED: {bad} of {n} checks" if self.failed else f"PASSED: {n} checks", flush=True)
        return 1 if self.failed else 0


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0

    def __str__(self):
        return f"{self.s:.1f}s"


def run_suite(title, body, need_ort=True):
    """A model test's main(): the environment (and ONNX Runtime), a table titled `title`, body(env, table) timed;
    returns the exit code."""
    env = Env()
    if need_ort:
        env.need_ort()
    table = Table(title)
    total = Timer()
    with total:
        body(env, table)
    return table.finish(total)


def pct(x):
    return f"{100 * x:.2f}%"


# ---- data sets ----
def read_idx(path):
    """An MNIST idx file (optionally gzipped) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an idx file")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[data[2]]
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)


def mnist_test(env):
    """(images uint8 [10000,28,28], labels uint8 [10000])."""
    d = env.data("mnist")
    return (read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")),
            read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")))


def imagenet_preprocess(path):
    """ImageNet preprocessing: RGB, shorter side to 256 (bilinear), center crop 224, [0,1], mean/std, CHW."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            size = (256, int(256 * h / w))  # as torchvision's Resize(256)
        else:
            size = (int(256 * w / h), 256)
        im = im.resize(size, Image.BILINEAR)
        left, top = int(round((size[0] - 224) / 2)), int(round((size[1] - 224) / 2))
        im = im.crop((left, top, left + 224, top + 224))
        x = np.asarray(im, dtype=np.float32) / 255.0
    return ((x - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)


def imagenet_sample(env):
    """(images float32 [500,3,224,224], labels int64 [500], file names): the 500-image sample, preprocessed once
    and cached as .npy in the cache folder."""
    folder = env.data("imagenet-sample")
    with open(os.path.join(folder, "labels.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    rows = [r for r in rows if len(r) >= 2]
    files = [r[0] for r in rows]
    labels = np.array([int(r[1]) for r in rows], np.int64)
    tag = hashlib.sha1(("imagenet-v1|" + "|".join(files)).encode()).hexdigest()[:12]
    path = os.path.join(env.cache, f"imagenet-sample-{tag}.npy")
    if not os.path.isfile(path):
        t0 = time.perf_counter()
        x = np.stack([imagenet_preprocess(os.path.join(folder, f)) for f in files])
        tmp = f"{path}.{os.getpid()}.tmp.npy"
        np.save(tmp, x)
        os.replace(tmp, path)
        print(f"preprocessed {len(files)} ImageNet images in {time.perf_counter() - t0:.1f}s -> {path}")
    return np.load(path, mmap_mode="r"), labels, files


def cifar_preprocess(path):
    from PIL import Image
    with Image.open(path) as im:
        x = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return ((x - CIFAR_MEAN) / CIFAR_STD).transpose(2, 0, 1).astype(np.float32)


def cifar_test(env, per_class):
    """(images float32 [10*per_class,3,32,32], labels int64): the first `per_class` images (file-name order) of
    each class of the CIFAR-10 test set, classes interleaved (image i has class i % 10). Cached."""
    folder = env.data("cifar10-test")
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    files = [sorted(os.listdir(os.path.join(folder, c)))[:per_class] for c in classes]
    order = [(k, files[k][i]) for i in range(per_class) for k in range(len(classes))]
    tag = hashlib.sha1(("cifar-v1|" + "|".join(f"{k}/{f}" for k, f in order)).encode()).hexdigest()[:12]
    path = os.path.join(env.cache, f"cifar10-{tag}.npz")
    if not os.path.isfile(path):
        x = np.stack([cifar_preprocess(os.path.join(folder, classes[k], f)) for k, f in order])
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, x=x, y=np.array([k for k, _ in order], np.int64))
        os.replace(tmp, path)
    with np.load(path) as z:
        return z["x"], z["y"]


def batches(n, size):
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))
