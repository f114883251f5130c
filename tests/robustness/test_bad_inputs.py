#!/usr/bin/python3
"""Feeds malformed models and misused command lines to the infera CLI and checks that each fails cleanly.

Usage: test_bad_inputs.py INFERA_BINARY SHARED_DIR SCRATCH_DIR [--jobs N] [--timeout S] [--filter SUBSTRING]

Cases come from make_bad_models.py (next to this file): crafted broken models, CLI misuse, and truncated and
bit-flipped copies of every model in SHARED_DIR/models and of the repo's models/demo/digits_cnn.onnx.

Every case runs under a timeout (60 s) and an address-space limit (ulimit -v, 8 GiB) and must show
  * no signal, no sanitizer report, no timeout;
  * for a case that must fail: exit 1 and exactly one line on stderr, "infera: error: <message>", whose message
    names the file at fault (and the node or tensor where one is at fault) and matches the expected reason.
Bit-flipped copies may still be valid models (a flip in weight data, or in a name): exit 0 is then acceptable,
but a failure must still be a single well-formed line naming the file. Truncated copies that Python's protobuf
cannot parse must fail.

Binaries built with AddressSanitizer reserve terabytes of address space, so for them the address-space limit
is replaced by INFERA_MAX_TENSOR_BYTES=4 GiB (infera's own allocation cap) and ASan's report is the crash signal.

Exit status: 0 when every case passed; 1 on any violation; 77 (skip) when SHARED_DIR is absent and everything
else passed (the corrupted copies of the shared models could not be tested).
"""

import argparse
import concurrent.futures
import os
import re
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bad_models  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMORY_LIMIT = 8 << 30
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                     "MemorySanitizer", "ThreadSanitizer")


def is_sanitized(binary):
    """Built with AddressSanitizer (INFERA_SANITIZE=ON)?"""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_case(binary, case, timeout, sanitized, cache):
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = cache  # `device probe` and `--device this` keep the user's cached probe untouched
    if sanitized:
        env["INFERA_MAX_TENSOR_BYTES"] = str(4 << 30)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    start = time.monotonic()
    try:
        p = subprocess.run([binary, *case["args"]], capture_output=True, timeout=timeout, env=env,
                           preexec_fn=None if sanitized else limit_memory, cwd=os.path.dirname(binary) or ".")
        rc, out, err = p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        timed_out = False
    except subprocess.TimeoutExpired as e:
        rc, out, err, timed_out = None, (e.stdout or b"").decode("utf-8", "replace"), \
            (e.stderr or b"").decode("utf-8", "replace"), True
    return rc, out, err, timed_out, time.monotonic() - start


def judge(case, rc, out, err, timed_out):
    """Returns (verdict, problem): verdict is a short outcome; problem is None when the case passed."""
    if timed_out:
        return "TIMEOUT", "hang: no exit within the time limit"
    if rc < 0:
        return f"SIGNAL {-rc}", f"killed by signal {-rc}"
    if any(m in err for m in SANITIZER_MARKERS):
        return "SANITIZER", "sanitizer report on stderr"
    lines = err.splitlines()
    expect = case["expect"]
    if expect == "ok":
        return ("ok", None) if rc == 0 else ("exit %d" % rc, "expected success")
    if expect == "unsupported_listed":
        missing = [n for n in case["names"] if n not in out and n != case["args"][-1]]
        if rc == 1 and missing:
            return "error", f"stdout does not list {missing}"
    if rc == 0:
        if expect == "error_or_ok":
            return ("ok (valid)", None) if not lines else ("ok (valid)", "exit 0 but stderr is not empty")
        return "exit 0", "expected an error, the CLI succeeded"
    if rc != 1:
        return "exit %d" % rc, "expected exit status 1"
    if len(lines) != 1:
        return "error", f"expected exactly one line on stderr, got {len(lines)}"
    if not lines[0].startswith("infera: error: "):
        return "error", "stderr line does not start with 'infera: error: '"
    msg = lines[0][len("infera: error: "):]
    missing = [n for n in case["names"] if n not in msg]
    if missing:
        return "error", f"message does not name {missing}"
    if case.get("reason") and not re.search(case["reason"], msg):
        return "error", f"message does not match the reason /{case['reason']}/"
    return "error", None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("shared")
    ap.add_argument("scratch")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--filter", default="", help="only cases whose id contains this")
    ap.add_argument("--verbose", action="store_true", help="print every message, not only the failing ones")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"test_bad_inputs: {binary} is not an executable", file=sys.stderr)
        return 1
    scratch = os.path.abspath(args.scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)

    models = [os.path.join(REPO, "models", "demo", "digits_cnn.onnx")]
    shared_models = os.path.join(args.shared, "models")
    have_shared = os.path.isdir(shared_models)
    if have_shared:
        for root, _, files in os.walk(shared_models):
            models += sorted(os.path.join(root, f) for f in files if f.endswith(".onnx"))
    else:
        print(f"test_bad_inputs: {shared_models} not found: the corrupted copies of the shared models are skipped")

    t0 = time.monotonic()
    cases = make_bad_models.make_crafted(scratch) + make_bad_models.make_corrupted(scratch, models)
    cases = [c for c in cases if args.filter in c["id"]]
    print(f"test_bad_inputs: {len(cases)} cases from {len(models)} models, generated in "
          f"{time.monotonic() - t0:.1f} s; binary {binary}")
    sanitized = is_sanitized(binary)
    if sanitized:
        print("test_bad_inputs: sanitized binary: no ulimit -v; INFERA_MAX_TENSOR_BYTES=4 GiB instead")

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        cache = os.path.join(scratch, "cache")
        results = list(pool.map(lambda c: (c, *run_case(binary, c, args.timeout, sanitized, cache)), cases))

    width = max(len(c["id"]) for c in cases) if cases else 10
    violations = []
    counts = {}
    print(f"\n{'case':<{width}}  {'outcome':<12} {'time':>6}  message")
    for case, rc, out, err, timed_out, secs in results:
        verdict, problem = judge(case, rc, out, err, timed_out)
        counts[verdict] = counts.get(verdict, 0) + 1
        first = err.splitlines()[0] if err.splitlines() else ""
        first = first[len("infera: error: "):] if first.startswith("infera: error: ") else first
        shown = first if (args.verbose or problem or len(first) <= 110) else first[:107] + "..."
        print(f"{case['id']:<{width}}  {verdict:<12} {secs:6.2f}  {shown}")
        if problem:
            violations.append((case, problem, rc, err))
            print(f"{'':<{width}}  ^^ VIOLATION: {problem}")
            print(f"{'':<{width}}     command: {binary} {' '.join(case['args'])}")
            for line in err.splitlines()[1:20]:
                print(f"{'':<{width}}     | {line}")

    print("\nsummary: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) +
          f"; {len(violations)} violation(s); {time.monotonic() - t0:.1f} s")
    if violations:
        return 1
    if not have_shared:
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
