#!/usr/bin/env python3
"""A page on another origin, opened in headless Chromium, tries to drive `sigmaflow serve`.

The page (served here from a second loopback port) POSTs a graph to /prompt as a "simple"
cross-origin request (text/plain, no preflight: the request reaches the server) and opens the
websocket. Both must be refused: nothing is queued and the websocket never opens. The same page
with the server started with --enable-cors-header <the page's origin> is the positive control:
then the prompt is queued and the websocket opens, so the check can fail.

  cross_origin_test.py SIGMAFLOW_EXECUTABLE
Prints "N passed, M failed"; exit 0 only when every check passed.
"""
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import urllib.request

from chromium import find_chromium

PAGE = """<!doctype html><html><head><title>pending</title></head><body><pre id="log"></pre><script>
const port = new URLSearchParams(location.search).get("port");
const log = (s) => { document.getElementById("log").textContent += s + "\\n"; };
const graph = {prompt: {"1": {class_type: "KarrasScheduler", inputs: {steps: 3}},
                        "2": {class_type: "SaveSigmas", inputs: {sigmas: ["1", 0], filename_prefix: "evil"}}}};
let pending = 2;
const done = () => { if (--pending === 0) document.title = "finished"; };
fetch(`http://127.0.0.1:${port}/prompt`, {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify(graph)})
  .then(() => log("fetch: sent")).catch((e) => log("fetch: failed " + e)).finally(done);
const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?clientId=evil`);
let opened = false;
ws.onopen = () => { opened = true; log("ws: open"); ws.close(); };
ws.onclose = () => { log(opened ? "ws: closed after open" : "ws: refused"); done(); };
</script></body></html>"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def start_server(exe, out, extra):
    proc = subprocess.Popen([exe, "serve", "--port", "0", "--out", out, "--input-dir", out + "-input",
                             "--models-dir", out + "-models"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, SIGMAFLOW_CACHE_DIR=out + "-cache"))
    for line in proc.stdout:  # bounded by the server's progress: it prints this once bound
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, int(m.group(1))
    raise RuntimeError("the server did not start")


def server_state(port):
    def get(path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
            return json.load(r)
    q = get("/queue")
    return len(q["queue_running"]) + len(q["queue_pending"]) + len(get("/history"))


def run_page(chromium, page_port, server_port, profile):
    url = f"http://127.0.0.1:{page_port}/evil.html?port={server_port}"
    # --virtual-time-budget lets the page's requests settle before the DOM is dumped; the run ends
    # when the page's work is done, not after a wall-clock wait.
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=600)
    return dom.stdout


def main():
    exe = sys.argv[1]
    chromium = find_chromium()
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
        passed, failed = passed + ok, failed + (not ok)

    if not chromium:
        check("chromium is installed (scripts/install-deps.sh --test installs Debian's chromium)", False)
        print(f"{passed} passed, {failed} failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="sigmaflow-browser-")
    with open(os.path.join(tmp, "evil.html"), "w") as f:
        f.write(PAGE)
    handler = lambda *a, **k: Quiet(*a, directory=tmp, **k)
    pages = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    page_port = pages.server_address[1]
    try:
        for trusted in (False, True):
            out = os.path.join(tmp, "out-trusted" if trusted else "out")
            extra = ["--enable-cors-header", f"http://127.0.0.1:{page_port}"] if trusted else []
            proc, port = start_server(exe, out, extra)
            try:
                dom = run_page(chromium, page_port, port, os.path.join(tmp, "profile"))
                what = "trusted origin (control)" if trusted else "another site's page"
                check(f"{what}: the page ran", "fetch: sent" in dom or "fetch: failed" in dom, dom[-500:])
                queued = server_state(port)
                if trusted:
                    check(f"{what}: the prompt was queued", queued >= 1, f"{queued} prompts")
                    check(f"{what}: the websocket opened", "ws: open" in dom, dom[-500:])
                else:
                    check(f"{what}: nothing was queued", queued == 0, f"{queued} prompts")
                    check(f"{what}: the websocket was refused", "ws: refused" in dom, dom[-500:])
                check(f"{what}: the server is alive", proc.poll() is None)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    finally:
        pages.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
