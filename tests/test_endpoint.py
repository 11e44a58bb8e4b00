"""Remote endpoints that fail, with a tiny fake HTTP server on 127.0.0.1 (http.server in a thread):
every failure is one clear message with the endpoint URL, exit 4, and never the credentials.

Also: how parameters are bound for a server (a VALUES block of serialised terms at the start of the
WHERE pattern), checked with rdflib's parser and on a second engine (Oxigraph); and `load`'s
verify-by-counting against a fake server that keeps its graphs in an rdflib Dataset.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.plugins.sparql.parser import parseQuery

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.endpoint import (
    Endpoint,
    LoadMethod,
    connect,
    find_credentials,
    load,
    run_remote,
    strip_userinfo,
)
from kgtool.errors import BadInputError, ExternalComponentError
from kgtool.namespaces import KGR
from kgtool.queries import (
    QueryForm,
    bind_values,
    find_saved_query,
    list_saved_queries,
    run_saved_query,
    values_block,
)

from .conftest import ROOT

# the fake store's rdflib Dataset warns about its own internals
pytestmark = pytest.mark.filterwarnings("ignore:Dataset.default_context:DeprecationWarning")
USER, PASSWORD = "analyst", "s3cret-Pa55word"
ROW = {"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "https://example.org/a"}}]}}
HOSTILE = ['x" } UNION { ?s ?p ?o } #', "}", "{", "} UNION { ?s ?p ?o", '"""', '\\" } UNION { ?s ?p ?o } #',
           "a\nb", 'a"""\n} UNION { ?s ?p ?o } #', "x\\", "'", "x\\u00"]


class Handler(BaseHTTPRequestHandler):
    """Answers by path; records every request on the server (method, path, headers, body)."""

    server: FakeServer

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/sparql-results+json",
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        path = urllib.parse.urlsplit(self.path).path
        ok = json.dumps(ROW).encode()
        if path == "/ok":
            self._reply(200, ok)
        elif path == "/error500":
            auth = self.headers.get("Authorization", "")
            echoed = base64.b64decode(auth.split()[-1]).decode() if auth else ""
            self._reply(500, f"<html><body><h1>Internal failure</h1><p>boom for {echoed}</p></body></html>"
                        .encode(), "text/html")
        elif path == "/garbage":
            self._reply(200, b"{not json at all", "application/sparql-results+json")
        elif path == "/wrong-type":
            self._reply(200, b"<html><body>Welcome to our portal</body></html>", "text/html")
        elif path == "/slow":
            time.sleep(3)
            self._reply(200, ok)
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            for byte in ok[:12]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        elif path == "/partial":
            self._reply(206, ok, headers={"X-SQL-State": "S1TAT", "X-SQL-Message":
                                          "RC...: Returning incomplete results, query interrupted by result timeout."})
        elif path == "/capped":
            rows = {"head": {"vars": ["s"]}, "results": {"bindings": [ROW["results"]["bindings"][0]] * 2}}
            self._reply(200, json.dumps(rows).encode(), headers={"X-SPARQL-MaxRows": "2"})
        elif path == "/thousand":
            rows = {"head": {"vars": ["s"]}, "results": {"bindings": [ROW["results"]["bindings"][0]] * 1000}}
            self._reply(200, json.dumps(rows).encode())
        elif path == "/auth":
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") == expected:
                self._reply(200, ok)
            else:
                self._reply(401, b"Unauthorized", "text/plain", {"WWW-Authenticate": 'Basic realm="SPARQL"'})
        elif path == "/virtuoso-ask":
            self._reply(200, json.dumps({"head": {"vars": ["__ASK_RETVAL"]}, "results": {"bindings": [
                {"__ASK_RETVAL": {"type": "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#integer",
                                  "value": "1"}}]}}).encode())
        elif path == "/bad-turtle":
            self._reply(200, b"<a> <b> this is not turtle", "text/turtle")
        else:
            self._reply(404, b"<html><body>not here</body></html>", "text/html")

    do_GET = do_POST = do_PUT = _handle


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) is expected: no traceback on stderr."""


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[FakeServer]:
    server = FakeServer(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def fake() -> Iterator[FakeServer]:
    yield from serve(Handler)


@pytest.fixture()
def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KGTOOL_ENDPOINT_USER", USER)
    monkeypatch.setenv("KGTOOL_ENDPOINT_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the machine's


def remote(url: str, *extra: str, query: str = "SELECT ?s WHERE { ?s ?p ?o }") -> Any:
    return CliRunner().invoke(main, ["query", "--endpoint", url, "-e", query, *extra])


# ---- failures: one message, the URL, exit 4, no credentials -------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("/error500", "HTTP 500 Internal Server Error: Internal failure boom for analyst:***"),
    ("/garbage", "malformed results: not JSON"),
    ("/wrong-type", "malformed results: expected SPARQL JSON results, got text/html: Welcome to our portal"),
    ("/slow", "no answer within 1 s (--timeout)"),
    ("/trickle", "no complete answer within 1 s (--timeout)"),
    ("/partial", ("the server returned incomplete results (HTTP 206, X-SQL-State S1TAT: RC...: Returning "
                  "incomplete results")),
    ("/nowhere", "HTTP 404 Not Found: not here"),
])
def test_server_failures_are_one_clear_message(fake: FakeServer, credentials: None, path: str, expected: str) -> None:
    result = remote(fake.url + path, "--timeout", "1")
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"error: SPARQL endpoint {fake.url}{path}: "), result.stderr
    assert expected in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert len(fake.requests) == 1, "a failure that will not pass is not sent again"
    assert fake.requests[0][2].get("Authorization", "").startswith("Basic ")


def test_connection_refused_on_a_closed_port(closed_port: int, credentials: None) -> None:
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{closed_port}/sparql"
    result = remote(url)
    assert result.exit_code == 4
    assert result.stderr.startswith(f"error: SPARQL endpoint http://127.0.0.1:{closed_port}/sparql: "
                                    "cannot connect: connection refused")
    assert PASSWORD not in result.stderr and USER not in result.stderr


def test_wrong_credentials_say_where_they_come_from(fake: FakeServer, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KGTOOL_ENDPOINT_USER", USER)
    monkeypatch.setenv("KGTOOL_ENDPOINT_PASSWORD", "wrong-password-123")
    result = remote(fake.url + "/auth")
    assert result.exit_code == 4
    assert "HTTP 401" in result.stderr and "KGTOOL_ENDPOINT_USER" in result.stderr
    assert "wrong-password-123" not in result.stderr


@pytest.mark.parametrize("source", ["environment", "url", "netrc"])
def test_credentials_are_sent_as_basic_auth(fake: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            source: str) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KGTOOL_ENDPOINT_USER", raising=False)
    monkeypatch.delenv("KGTOOL_ENDPOINT_PASSWORD", raising=False)
    url = fake.url + "/auth"
    if source == "environment":
        monkeypatch.setenv("KGTOOL_ENDPOINT_USER", USER)
        monkeypatch.setenv("KGTOOL_ENDPOINT_PASSWORD", PASSWORD)
    elif source == "url":
        url = url.replace("http://", f"http://{USER}:{urllib.parse.quote(PASSWORD)}@")
    else:
        (tmp_path / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
        (tmp_path / ".netrc").chmod(0o600)
    result = remote(url, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["s", "https://example.org/a"]
    assert PASSWORD not in repr(connect(url))


def test_half_given_credentials_are_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInputError, match="set both"):
        find_credentials("http://127.0.0.1/sparql", environ={"KGTOOL_ENDPOINT_USER": "x"})
    assert strip_userinfo("http://u:p%40ss@h:1/s") == ("http://h:1/s", "u", "p@ss")


def test_row_caps_are_warned_about(fake: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    capped = remote(fake.url + "/capped", "--format", "csv")
    assert capped.exit_code == 0
    assert "warning: the server caps answers at 2 rows (X-SPARQL-MaxRows)" in capped.stderr
    thousand = remote(fake.url + "/thousand", "--format", "csv")
    assert "1000 rows is a common server cap" in thousand.stderr
    asked = remote(fake.url + "/thousand", "--format", "csv", query="SELECT ?s WHERE { ?s ?p ?o } LIMIT 1000")
    assert "warning" not in asked.stderr


def test_how_the_request_is_sent(fake: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert remote(fake.url + "/ok", "--graph", "urn:g").exit_code == 0
    assert remote(fake.url + "/ok", "--method", "get").exit_code == 0
    (post_method, _, post_headers, post_body), (get_method, get_path, _, _) = fake.requests[0], fake.requests[-1]
    form = urllib.parse.parse_qs(post_body.decode())
    assert post_method == "POST" and form["default-graph-uri"] == ["urn:g"]
    assert "PREFIX kgr: <https://w3id.org/kgtool/resource/>" in form["query"][0]
    assert "application/sparql-results+json" in post_headers["Accept"]
    assert "format" not in form and "output" not in form  # content negotiation only
    assert get_method == "GET" and "query=" in get_path


def test_virtuoso_ask_answers_and_bad_graphs(fake: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert run_remote(connect(fake.url + "/virtuoso-ask"), "ASK { ?s ?p ?o }").boolean is True
    broken = remote(fake.url + "/bad-turtle", query="CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    assert broken.exit_code == 4 and "malformed results: the turtle does not parse" in broken.stderr


def test_usage_errors(fake: FakeServer) -> None:
    assert CliRunner().invoke(main, ["query", "reserve-figures", "--graph", "urn:g"]).exit_code == 2
    assert CliRunner().invoke(main, ["query", "--endpoint", "ftp://x/sparql", "-e", "ASK {}"]).exit_code == 3


# ---- binding by VALUES -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_values_block_keeps_a_hostile_literal_one_literal(value: str) -> None:
    """The bound query finds the one subject whose label is exactly the value, on rdflib and Oxigraph."""
    import pyoxigraph as ox

    text = "SELECT ?s WHERE { ?s <https://example.org/label> ?name } ORDER BY ?s"
    bound = bind_values(text, {"name": Literal(value)})
    assert bound.count("VALUES") == 1 and "UNION" not in bound.replace(Literal(value).n3(), "")
    graph = Graph()
    graph.add((URIRef("https://example.org/hit"), URIRef("https://example.org/label"), Literal(value)))
    graph.add((URIRef("https://example.org/miss"), URIRef("https://example.org/label"), Literal("other")))
    assert [str(row[0]) for row in graph.query(bound)] == ["https://example.org/hit"]
    store = ox.Store()
    store.load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    solutions = store.query(bound)
    found = [s["s"].value for s in solutions]
    del solutions  # pyoxigraph's results must be dropped on the thread that made them
    assert found == ["https://example.org/hit"]


def test_codepoint_escapes_are_refused_for_servers() -> None:
    """SPARQL expands \\uXXXX before parsing, so such text cannot reach a server unchanged: it is refused
    (it could not end the literal either: n3() doubles the backslash, and an escaped quote stays escaped)."""
    with pytest.raises(BadInputError, match="cannot send"):
        values_block({"name": Literal("\\u0022 } UNION { ?s ?p ?o } #")})


@pytest.mark.parametrize("text, form, where", [
    ("SELECT * WHERE { ?s ?p ?o }", QueryForm.SELECT, "WHERE {"),
    ("SELECT * { ?s ?p ?o }", QueryForm.SELECT, "* {"),
    ("SELECT (EXISTS { ?a ?b ?c } AS ?x) WHERE { ?s ?p ?o }", QueryForm.SELECT, "WHERE {"),
    ("# a { comment WHERE }\nSELECT ?where WHERE { ?where ?p \"{ WHERE }\" }", QueryForm.SELECT, "WHERE {"),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", QueryForm.CONSTRUCT, "WHERE {"),
    ("CONSTRUCT { ?s ?p ?o } { ?s ?p ?o }", QueryForm.CONSTRUCT, "} {"),
    ("PREFIX ex: <https://ex.org/WHERE#> ASK { ?s ex:p ?o }", QueryForm.ASK, "ASK {"),
    ("DESCRIBE ?s WHERE { ?s ?p ?o }", QueryForm.DESCRIBE, "WHERE {"),
])
def test_values_go_at_the_start_of_the_where_pattern(text: str, form: QueryForm, where: str) -> None:
    bound = bind_values(text, {"o": URIRef("https://example.org/x")}, form)
    assert bound.replace(f"\n  {values_block({'o': URIRef('https://example.org/x')})}\n", "") == text
    assert bound.index("VALUES") == text.index(where) + len(where) + 3
    parseQuery(bound)


def test_unbindable_queries_and_terms() -> None:
    with pytest.raises(BadInputError, match="no WHERE pattern"):
        bind_values("DESCRIBE <https://example.org/x>", {"o": Literal(1)})
    with pytest.raises(BadInputError, match="short form"):
        bind_values("CONSTRUCT WHERE { ?s ?p ?o }", {"o": Literal(1)})
    with pytest.raises(BadInputError, match="not a valid absolute IRI"):
        values_block({"o": URIRef("https://example.org/x> } UNION { ?s ?p ?o . <y")})


def test_values_at_the_start_give_the_same_rows_on_oxigraph(built: BuildResult) -> None:
    """The binding used for servers, checked on a second engine for every saved query and parameter."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(built.graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)

    def norm(term: Any) -> Any:
        if term is None:
            return None
        if isinstance(term, (URIRef, Literal)):  # rdflib's
            value, datatype = str(term), getattr(term, "datatype", None)
        else:  # Oxigraph's
            value, datatype = term.value, getattr(getattr(term, "datatype", None), "value", None)
        if str(datatype).endswith(("#decimal", "#integer")):
            return Decimal(value)
        return str(value)

    from kgtool.queries import bind_parameters, declare_prefixes

    from kgtool.queries import query_form

    # rows only: a saved CONSTRUCT (control-network) is compared as a graph in tests/test_pictures.py
    cases = [(q, {}) for q in list_saved_queries(ROOT / "queries") if not query_form(q.text).gives_graph]
    cases += [(find_saved_query(ROOT / "queries", "rare-earth-facilities"), {"outside": "kgr:russia"}),
              (find_saved_query(ROOT / "queries", "deposit-profile"), {"deposit": "kgr:ak-sugsky"})]
    for saved, params in cases:
        ours = run_saved_query(built.graph, saved, params)
        bound = bind_values(declare_prefixes(saved.text), bind_parameters(built.graph, saved, params))
        solutions = store.query(bound)
        theirs = [tuple(norm(s[v]) for v in ours.variables) for s in solutions]
        del solutions  # pyoxigraph's results must be dropped on the thread that made them
        assert [tuple(norm(t) for t in row) for row in ours.rows] == theirs, saved.name


# ---- load: stage, count, move, count ---------------------------------------------------------------

class StoreHandler(BaseHTTPRequestHandler):
    """A SPARQL endpoint (/sparql) and Graph Store (/sparql-graph-crud) over an rdflib Dataset, with faults
    to inject: `fail_move` (500, nothing done), `move_then_504` (the move done, then a 504), `no_gsp` (501)."""

    server: StoreServer

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        dataset = self.server.dataset
        if "update" in form:
            update = form["update"][0]
            self.server.updates.append(update)
            if update.startswith("MOVE") and self.server.fault == "fail_move":
                return self._reply(500, b"Internal error: MOVE not possible now")
            dataset.update(update)
            if update.startswith("MOVE") and self.server.fault == "move_then_504":
                return self._reply(504, b"Gateway Timeout")
            return self._reply(200, b"done")
        result = dataset.query(form["query"][0])
        self._reply(200, result.serialize(format="json") or b"", "application/sparql-results+json")

    def do_PUT(self) -> None:
        if self.server.fault == "no_gsp":
            return self._reply(501, b"Not Implemented")
        graph = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["graph"][0]
        target = self.server.dataset.graph(URIRef(graph))
        target.remove((None, None, None))
        target.parse(data=self.rfile.read(int(self.headers["Content-Length"])), format="turtle")
        self._reply(201, b"Created")


class StoreServer(FakeServer):
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(handler)
        self.dataset = Dataset()
        self.fault = ""
        self.updates: list[str] = []


@pytest.fixture()
def store_server() -> Iterator[StoreServer]:
    server = StoreServer(StoreHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def small_graph(n: int) -> Graph:
    graph = Graph()
    for i in range(n):
        graph.add((KGR[f"e{i}"], KGR.p, Literal(f"value {i} with a }} brace")))
    return graph


def target_count(server: StoreServer, target: str) -> int:
    return len(server.dataset.graph(URIRef(target)))


def endpoint_of(server: StoreServer) -> Endpoint:
    return connect(server.url + "/sparql", timeout=10, environ={})


TARGET = "urn:kgtool:test:target"


def test_load_through_the_graph_store_and_verify(store_server: StoreServer) -> None:
    report = load(endpoint_of(store_server), small_graph(5), TARGET)
    assert (report.triples, report.previous) == (5, 0) and "Graph Store Protocol" in report.method
    assert target_count(store_server, TARGET) == 5
    assert any(u.startswith("MOVE SILENT GRAPH <urn:kgtool:staging:") for u in store_server.updates)


def test_a_504_after_the_move_is_verified_by_counting(store_server: StoreServer) -> None:
    store_server.fault = "move_then_504"
    report = load(endpoint_of(store_server), small_graph(3), TARGET)
    assert report.triples == 3 and target_count(store_server, TARGET) == 3
    assert any("HTTP 504" in note and "verified by counting" in note for note in report.notes)


def test_a_failed_move_leaves_the_old_graph(store_server: StoreServer) -> None:
    load(endpoint_of(store_server), small_graph(2), TARGET)
    store_server.fault = "fail_move"
    with pytest.raises(ExternalComponentError) as failure:
        load(endpoint_of(store_server), small_graph(7), TARGET)
    message = failure.value.message
    assert "HTTP 500" in message and "The target holds 2 triples as before" in message
    assert "staging graph was removed" in message
    assert target_count(store_server, TARGET) == 2
    assert sorted(str(g.identifier) for g in store_server.dataset.graphs() if len(g)) == [TARGET]


def test_without_a_graph_store_load_uses_update(store_server: StoreServer) -> None:
    store_server.fault = "no_gsp"
    report = load(endpoint_of(store_server), small_graph(2501), TARGET)
    assert report.method == "SPARQL Update (3 INSERT requests)"
    assert any("Graph Store Protocol is not available" in note for note in report.notes)
    assert target_count(store_server, TARGET) == 2501
    with pytest.raises(ExternalComponentError, match="HTTP 501"):
        load(endpoint_of(store_server), small_graph(1), TARGET, via=LoadMethod.GRAPH_STORE)
    assert target_count(store_server, TARGET) == 2501


def test_load_command_reports_an_unreachable_server(closed_port: int) -> None:
    result = CliRunner().invoke(main, ["load", "--endpoint", f"http://127.0.0.1:{closed_port}/sparql",
                                       "--graph", TARGET, "--input", str(ROOT / "ontology" / "kgtool.ttl")])
    assert result.exit_code == 4
    assert "connection refused" in result.stderr and "Traceback" not in result.stderr
