"""Fixtures for the dataset tests: a loopback HTTP server with Range support and fault injection."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class ServerState:
    """What the test server serves and what it saw."""

    files: dict = field(default_factory=dict)  # URL path -> bytes
    cut: dict = field(default_factory=dict)  # URL path -> bytes to send before dropping the connection (once)
    honour_ranges: bool = True
    requests: list = field(default_factory=list)  # (path, Range header or None)
    base_url: str = ""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        state = self.server.state
        header = self.headers.get("Range")
        state.requests.append((self.path, header))
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = int(header.removeprefix("bytes=").split("-")[0]) if header and state.honour_ranges else 0
        if start >= len(body) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        cut = state.cut.pop(self.path, None)
        self.wfile.write(chunk if cut is None else chunk[:cut])
        if cut is not None:
            self.close_connection = True  # announced more than we sent: an interrupted transfer

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def _isolated_data_home(monkeypatch, tmp_path_factory):
    """Dataset defaults (data home, feature cache) point into a temporary folder, never into ~/.cache."""
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path_factory.mktemp("data_home")))


@pytest.fixture
def http_server(monkeypatch):
    """A ThreadingHTTPServer on 127.0.0.1 (random port) serving ``state.files``; yields its state."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = ServerState(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
