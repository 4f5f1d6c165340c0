"""`--preview`: a page on 127.0.0.1 that shows a run as it goes: the image, the loss curves and
the settings, updated after every L-BFGS iteration.

Served by the standard library (http.server, in a thread of the run's own process): one page,
one JSON state and one PNG, polled by the page twice a second, need no framework and no new
dependency. The page is self-contained (inline script, styles and a hand-drawn canvas plot): it
fetches nothing from the internet. It stays up until the run ends, shows the final image, and
lingers a moment so that an open page gets it.
"""

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

PAGE = Path(__file__).parent / "data" / "preview.html"
LINGER = 2.0  # seconds the page stays up after the run, so a polling page sees the end


class Preview:
    """The page's server and what it shows; `update` is a stylize() callback."""

    def __init__(self, settings, port=0):
        self.lock = threading.Lock()
        self.state = {"status": "starting", "settings": settings, "history": [], "version": 0}
        self.png = b""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def update(self, record, image_fn):
        """After an iteration: its record joins the curves, its image replaces the last one."""
        png = _png(image_fn())
        with self.lock:
            self.state["history"].append(record)
            self.state["status"] = "running"
            self.state["version"] += 1
            self.png = png

    def finish(self, image, message):
        """The run ended: show its final image (None: nothing to show) and why it ended."""
        with self.lock:
            if image is not None:
                self.png = _png(image)
                self.state["version"] += 1
            self.state["status"] = "finished"
            self.state["message"] = message

    def close(self, linger=LINGER):
        time.sleep(linger if self.state["status"] == "finished" else 0)
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return json.dumps(self.state).encode(), self.png


def _png(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)  # fast: sent, not kept
    return buf.getvalue()


def _handler(preview):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state, png = preview.snapshot()
            path = self.path.split("?")[0]
            if path == "/":
                self._send(200, "text/html; charset=utf-8", PAGE.read_bytes())
            elif path == "/state.json":
                self._send(200, "application/json", state)
            elif path == "/image.png" and png:
                self._send(200, "image/png", png)
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, code, kind, body):
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # the terminal shows the run's progress, not each request
            pass

    return Handler
