"""A fake SPARQL server on 127.0.0.1 that fails on cue, for the hardening tests.

It answers the SPARQL protocol (queries and updates, form-encoded POST) and the Graph Store Protocol
(PUT ?graph=) over an rdflib Dataset, so `kgtool query` and `kgtool load` work against it for real.
`faults` is a script: the n-th request gets the n-th fault ("" for a proper answer), and requests
past its end get a proper answer. `stop_after` makes the server stop listening after that many
requests, as a server that dies mid-run: later requests get no answer, and soon connections are refused.

Faults: "500" (an HTTP 500 page), "503" (service unavailable), "drop" (the connection is closed
without an answer), "slow" (no answer for `slow_seconds`), "truncated" (a result document cut in
the middle, N-Triples at a line boundary, while its Content-Length promises all of it),
"wrong-type" (an HTML page with status 200).
"""
from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rdflib import Dataset, URIRef


class FakeEndpointHandler(BaseHTTPRequestHandler):
    server: FakeEndpoint

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.next_fault(self.command, self.path, body)
        try:
            self._answer(fault, body)
        finally:
            self.server.after_request()

    def _answer(self, fault: str, body: bytes) -> None:
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "slow":
            time.sleep(self.server.slow_seconds)
        if fault == "500":
            return self._reply(500, b"<html><body><h1>Internal failure</h1></body></html>", "text/html")
        if fault == "503":
            return self._reply(503, b"Service Unavailable: try later", "text/plain")
        if fault == "wrong-type":
            return self._reply(200, b"<html><body>Welcome to our portal</body></html>", "text/html")
        if self.command == "PUT":
            graph = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["graph"][0]
            target = self.server.dataset.graph(URIRef(graph))
            target.remove((None, None, None))
            target.parse(data=body, format="turtle")
            return self._reply(201, b"Created", "text/plain")
        form = urllib.parse.parse_qs(body.decode("utf-8")) if self.command == "POST" else \
            urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "update" in form:
            self.server.dataset.update(form["update"][0])
            return self._reply(200, b"done", "text/plain")
        result = self.server.dataset.query(form["query"][0])
        if result.type in ("CONSTRUCT", "DESCRIBE"):
            document, content_type = result.serialize(format="nt") or b"", "application/n-triples"
            cut = document.rfind(b"\n", 0, len(document) // 2) + 1  # at a line boundary: it still parses
        else:
            document, content_type = result.serialize(format="json") or b"", "application/sparql-results+json"
            cut = len(document) // 2
        if fault == "truncated":
            self._reply(200, document[:cut], content_type, len(document))
            self.close_connection = True
            return
        self._reply(200, document, content_type)

    do_GET = do_POST = do_PUT = _handle


class FakeEndpoint(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeEndpointHandler)
        self.dataset = Dataset()
        self.faults: list[str] = []
        self.requests: list[tuple[str, str, bytes]] = []
        self.stop_after: int | None = None
        self.slow_seconds = 3.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sparql"

    @property
    def graph_store(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sparql-graph-crud"

    def next_fault(self, method: str, path: str, body: bytes) -> str:
        with self._lock:
            index = len(self.requests)
            self.requests.append((method, path, body))
        if self.stop_after is not None and index >= self.stop_after:
            return "drop"  # still listening for a moment while it stops: it answers nothing more
        return self.faults[index] if index < len(self.faults) else ""

    def after_request(self) -> None:
        if self.stop_after is not None and len(self.requests) >= self.stop_after and not self._stopped.is_set():
            self._stopped.set()
            threading.Thread(target=self.stop, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections from now on are refused."""
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) is expected: no traceback."""

    def triples_in(self, graph: str) -> int:
        return len(self.dataset.graph(URIRef(graph)))


@contextmanager
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """A running FakeEndpoint, stopped at the end."""
    server = FakeEndpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if not server._stopped.is_set():
            server._stopped.set()
            server.stop()
