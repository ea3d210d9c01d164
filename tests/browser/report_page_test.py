#!/usr/bin/env python3
"""CompareReport's HTML page, opened in headless Chromium with no network.

A small sweep (one mixture, two samplers) is run with `sigmaflow run`; its report page is opened
from disk with every request routed to a dead proxy. Checks: the page renders (Chromium's DOM dump)
with one table per metric, every SVG plot inline, one error-vs-NFE plot per sampler; Chromium
logs no console message (a request the page tried, blocked by its Content-Security-Policy or by
the dead proxy, would be one); a screenshot is written. Positive control: the same page with a
script and a remote image added must log console messages, so the check can fail.

  report_page_test.py SIGMAFLOW_EXECUTABLE
Prints "N passed, M failed"; exit 0 only when every check passed.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

from chromium import find_chromium

GRAPH = """{
 "1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8", "dtype": "float64"}},
 "2": {"class_type": "ScheduleSweep", "inputs": {"model": ["1", 0], "schedulers": "karras, exponential, score_optimal",
       "samplers": "euler, dpmpp_2m", "steps_list": "4, 8", "batch": 300, "seed": 1, "reference_steps": 100,
       "projections": 32}},
 "3": {"class_type": "CompareReport", "inputs": {"report": ["2", 0], "title": "page <test> & co",
       "filename_prefix": "page/r"}}
}"""

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))


def open_page(chromium, page, profile, extra):
    """Chromium's DOM dump of `page` and its console lines. The run ends when the page is done:
    --virtual-time-budget advances the page's clock without waiting in real time."""
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--enable-logging=stderr",
                          "--v=0", "--virtual-time-budget=5000"] + extra + ["file://" + page],
                         capture_output=True, text=True)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.stdout, console


def main():
    exe = sys.argv[1]
    chromium = find_chromium()
    if not chromium:
        check("chromium is installed (scripts/install-deps.sh --test installs Debian's chromium)", False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        graph = os.path.join(tmp, "graph.json")
        with open(graph, "w") as f:
            f.write(GRAPH)
        out = os.path.join(tmp, "out")
        run = subprocess.run([exe, "run", graph, "--out", out], capture_output=True, text=True,
                             env=dict(os.environ, SIGMAFLOW_CACHE_DIR=os.path.join(tmp, "cache")))
        check("the sweep and report run", run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:])
        pages = glob.glob(os.path.join(out, "page", "*.html"))
        check("one HTML page is written", len(pages) == 1, str(pages))
        if len(pages) != 1:
            return
        page = pages[0]
        svgs = glob.glob(os.path.join(out, "page", "*.svg"))
        dom, console = open_page(chromium, page, os.path.join(tmp, "profile"), ["--dump-dom"])
        check("the page renders", "<body" in dom and "</html>" in dom, dom[:500])
        check("no console messages (no request, no error)", not console, "\n".join(console[:5]))
        metrics = ["trajectory_error", "sliced_wasserstein", "mode_coverage_tv", "mean_log_density"]
        tables = dom.count("<table")
        check("a table per metric, plus wall times", tables >= len(metrics) + 1, f"{tables} tables")
        for m in metrics:
            check(f"the {m} section is there", f">{m} (" in dom, "")
        check("every SVG plot is inline", dom.count("<svg") == len(svgs), f"{dom.count('<svg')} of {len(svgs)}")
        for sampler in ("euler", "dpmpp_2m"):
            check(f"an error-vs-NFE plot for {sampler}", f"trajectory_error vs NFE, sampler {sampler}" in dom, "")
        check("the title is text, not markup", "<title>page &lt;test&gt; &amp; co</title>" in dom, "")
        check("intervals and the noise floor are shown", re.search(r"\[[0-9.e-]+, [0-9.e-]+\]", dom) is not None
              and "Noise floor" in dom, "")
        shot = os.path.join(tmp, "page.png")
        open_page(chromium, page, os.path.join(tmp, "profile"), [f"--screenshot={shot}", "--window-size=1280,3000"])
        size = os.path.getsize(shot) if os.path.exists(shot) else 0
        with open(shot, "rb") if size else open(os.devnull, "rb") as f:
            magic = f.read(8)
        check("a screenshot is taken", size > 20000 and magic.startswith(b"\x89PNG"), f"{size} bytes")
        # Positive control: a page that runs a script and asks for a remote image logs both.
        bad = os.path.join(tmp, "bad.html")
        with open(page) as f, open(bad, "w") as g:
            g.write(f.read().replace("</body>", "<script>console.error('x')</script>"
                                     "<img src=\"http://example.com/x.png\"></body>"))
        _, bad_console = open_page(chromium, bad, os.path.join(tmp, "profile"), ["--dump-dom"])
        check("positive control: a script and a request are logged", len(bad_console) >= 2, str(bad_console))


main()
passed, failed = results.count(True), results.count(False)
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
