#!/usr/bin/python3
"""Renders `infera profile --html` of the demo model in headless Chromium and checks the page and the trace.

Usage: test_report_render.py INFERA_BINARY SCRATCH_DIR

  * `infera profile models/demo/digits_cnn.onnx --json --html --trace` against a fixed device file (no probe, so
    the result does not depend on this machine);
  * the Chrome trace parses and holds one complete event per step;
  * `chromium --headless --dump-dom` of the page: the DOM holds the SVG chart with one <circle> per step that has
    FLOPs and bytes, and the time bars;
  * `chromium --headless --screenshot`: the image is a PNG and not blank (with PIL: many non-white pixels).

Exit status: 0 passed, 1 failed, 77 (skip) when no Chromium is installed.
"""

import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "models", "demo", "digits_cnn.onnx")
TIMEOUT = 120

# Round numbers in the catalog's format: the test checks rendering, not this machine.
DEVICE = {
    "id": "render-test-cpu",
    "display_name": "render test CPU",
    "kind": "cpu",
    "cores": 2,
    "peak_ops": {"fp32": {"value": 200, "unit": "GFLOP/s", "source": "render test"}},
    "memory_bandwidth": {"value": 20, "unit": "GB/s", "source": "render test"},
    "onchip_bytes": {"value": 32, "unit": "MiB", "source": "render test"},
    "onchip_bandwidth": {"value": 200, "unit": "GB/s", "source": "render test"},
    "process_nm": {"value": 4, "unit": "nm", "source": "render test"},
}


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if result.returncode != 0:
        fail(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def profile(infera, scratch):
    device = os.path.join(scratch, "render-test-cpu.json")
    with open(device, "w") as f:
        json.dump(DEVICE, f)
    html = os.path.join(scratch, "report.html")
    trace = os.path.join(scratch, "trace.json")
    report = json.loads(run([infera, "profile", MODEL, "--threads", "1", "--iters", "3", "--device", device,
                             "--html", html, "--trace", trace, "--json"]))
    return report, html, trace


def check_trace(trace, steps):
    with open(trace) as f:
        events = json.load(f)["traceEvents"]
    complete = [e for e in events if e["ph"] == "X" and e["cat"] in ("layer", "conversion")]
    if len(complete) != steps:
        fail(f"trace has {len(complete)} step events for {steps} steps")
    if any(e["dur"] < 0 or e["ts"] < 0 for e in complete):
        fail("trace has negative times")


def check_dom(chromium, html, scratch, points, steps):
    dom = run([chromium, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={scratch}/chromium",
               "--dump-dom", f"file://{html}"])
    if "<svg" not in dom:
        fail("the rendered DOM has no <svg>")
    circles = dom.count("<circle")
    if circles != points:
        fail(f"the rendered DOM has {circles} circles for {points} steps with FLOPs")
    if dom.count('class="bar ') != min(steps, 20):
        fail("the time bars are missing from the rendered DOM")
    print(f"DOM: svg with {circles} circles, {min(steps, 20)} time bars")


def check_screenshot(chromium, html, scratch):
    png = os.path.join(scratch, "report.png")
    if os.path.exists(png):
        os.remove(png)
    run([chromium, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={scratch}/chromium",
         "--hide-scrollbars", f"--screenshot={png}", "--window-size=1200,2000", f"file://{html}"])
    with open(png, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail("the screenshot is not a PNG")
    try:
        from PIL import Image
    except ImportError:
        print("screenshot: PNG written (PIL absent: content not checked)")
        return
    image = Image.open(png).convert("RGB")
    pixels = list(image.getdata())
    inked = sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)
    colours = len(set(pixels))
    if inked < 0.02 or colours < 20:
        fail(f"the screenshot looks blank: {100 * inked:.1f} % non-white pixels, {colours} colours")
    print(f"screenshot: {100 * inked:.1f} % non-white pixels, {colours} colours")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    infera, scratch = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(scratch, exist_ok=True)
    chromium = find_chromium()
    report, html, trace = profile(infera, scratch)
    steps = len(report["layers"])
    points = sum(1 for l in report["layers"] if l["flops"] > 0 and l["bytes_read"] + l["bytes_written"] > 0
                 and l["time_us"] > 0)
    if steps == 0 or points == 0:
        fail(f"the profile has {steps} steps, {points} with FLOPs")
    check_trace(trace, steps)
    if chromium is None:
        print("SKIP: no chromium (Debian: apt-get install chromium); the page was not rendered")
        return 77
    check_dom(chromium, html, scratch, points, steps)
    check_screenshot(chromium, html, scratch)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
