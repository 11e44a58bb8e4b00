"""Failing servers: a fake endpoint on loopback that fails on cue (tests/fake_endpoint.py), and a real
Virtuoso stopped in the middle of a load.

Reads are retried with a doubling pause when the failure may pass (no connection, a dropped connection,
HTTP 502/503/504), never when it will not (HTTP 500, a wrong content type, a time limit); writes are sent
once. Every failure is one line naming the endpoint, exit 4; `kgtool load` says what state the server is
left in, and the target graph keeps its triples when the upload does not complete.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal

import kgtool.endpoint
from kgtool.cli import main
from kgtool.endpoint import Endpoint, LoadMethod, TransientEndpointError, connect, count_triples, load, run_remote
from kgtool.errors import ExternalComponentError
from kgtool.namespaces import KGR

from .conftest import missing
from .fake_endpoint import FakeEndpoint, fake_endpoint
from .virtuoso import VirtuosoServer

TARGET = "urn:kgtool:test:hardening"
QUERY = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s"


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeEndpoint]:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the machine's
    with fake_endpoint() as server:
        yield server


def graph_of(n: int, tag: str = "v") -> Graph:
    graph = Graph()
    for i in range(n):
        graph.add((KGR[f"e{i}"], KGR.p, Literal(f"{tag} {i}")))
    return graph


def endpoint_of(server: FakeEndpoint, **changes: object) -> Endpoint:
    return replace(connect(server.url, timeout=10, environ={}), **changes)  # type: ignore[arg-type]


def query_cli(url: str, *extra: str) -> object:
    return CliRunner().invoke(main, ["query", "--endpoint", url, "-e", QUERY, *extra])


# ---- reads: retried when the failure may pass ------------------------------------------------------------

@pytest.mark.parametrize("faults", [["503"], ["drop"], ["truncated"], ["503", "drop"]])
def test_a_read_is_retried_after_a_failure_that_passes(fake: FakeEndpoint, faults: list[str]) -> None:
    fake.dataset.default_graph.add((KGR.a, KGR.p, Literal("x")))
    fake.faults = faults
    result = run_remote(endpoint_of(fake), QUERY)
    assert [str(row[1]) for row in result.rows] == ["x"]
    assert len(fake.requests) == len(faults) + 1


@pytest.mark.parametrize("fault, expected", [
    ("503", "HTTP 503 Service Unavailable: Service Unavailable: try later (tried 3 times)"),
    ("drop", "the connection failed"),
    ("truncated", "the answer was cut short"),
])
def test_a_failure_that_does_not_pass_is_one_message_after_the_retries(fake: FakeEndpoint, fault: str,
                                                                      expected: str) -> None:
    fake.faults = [fault] * 3
    result = query_cli(fake.url)
    assert result.exit_code == 4, result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert stderr.startswith(f"error: SPARQL endpoint {fake.url}: ") and expected in stderr
    assert "(tried 3 times)" in stderr and "Traceback" not in stderr
    assert len(fake.requests) == 3


@pytest.mark.parametrize("fault, expected", [
    ("500", "HTTP 500 Internal Server Error: Internal failure"),
    ("wrong-type", "malformed results: expected SPARQL JSON results, got text/html"),
    ("slow", "no answer within 1 s (--timeout)"),
])
def test_failures_that_will_not_pass_are_not_retried(fake: FakeEndpoint, fault: str, expected: str) -> None:
    fake.faults = [fault]
    fake.slow_seconds = 3
    result = query_cli(fake.url, "--timeout", "1")
    assert result.exit_code == 4  # type: ignore[attr-defined]
    assert expected in result.stderr and "tried" not in result.stderr  # type: ignore[attr-defined]
    assert len(fake.requests) == 1


def test_a_graph_cut_at_a_line_boundary_is_not_passed_off_as_the_answer(fake: FakeEndpoint) -> None:
    for i in range(40):
        fake.dataset.default_graph.add((KGR[f"e{i}"], KGR.p, Literal(i)))
    fake.faults = ["truncated"] * 3
    with pytest.raises(TransientEndpointError, match=r"the answer was cut short: \d+ of \d+ bytes arrived"):
        run_remote(endpoint_of(fake), "CONSTRUCT WHERE { ?s ?p ?o }")
    fake.faults = ["truncated"]
    assert len(run_remote(endpoint_of(fake), "CONSTRUCT WHERE { ?s ?p ?o }").graph or ()) == 40


def test_connection_refused_is_retried_then_one_message(fake: FakeEndpoint) -> None:
    fake.stop()
    with pytest.raises(TransientEndpointError) as failure:
        run_remote(endpoint_of(fake), QUERY)
    assert failure.value.message == f"SPARQL endpoint {fake.url}: cannot connect: connection refused (tried 3 times)"
    assert failure.value.exit_code == 4


# ---- writes: sent once, and the target graph is never left half-replaced silently -----------------------

def test_an_update_is_never_repeated(fake: FakeEndpoint) -> None:
    load(endpoint_of(fake), graph_of(3, "old"), TARGET, via=LoadMethod.UPDATE)
    fake.requests.clear()
    fake.faults = ["", "", "503"]  # count the target, DROP the staging graph, then the INSERT fails
    with pytest.raises(ExternalComponentError) as failure:
        load(endpoint_of(fake), graph_of(5, "new"), TARGET, via=LoadMethod.UPDATE)
    inserts = [body for _, _, body in fake.requests if b"INSERT" in body]
    assert len(inserts) == 1
    assert "HTTP 503" in failure.value.message
    assert f"graph <{TARGET}> at {fake.url} is unchanged (3 triples)" in failure.value.message
    assert fake.triples_in(TARGET) == 3


def test_a_server_that_dies_after_the_upload_leaves_the_target_as_it_was(fake: FakeEndpoint, tmp_path: Path) -> None:
    load(endpoint_of(fake), graph_of(4, "old"), TARGET)
    data = tmp_path / "new.ttl"
    graph_of(6, "new").serialize(data, format="turtle")
    fake.requests.clear()
    fake.stop_after = 2  # it counts the target, takes the PUT into the staging graph, and dies
    result = CliRunner().invoke(main, ["load", "--endpoint", fake.url, "--graph", TARGET, "--input", str(data)])
    assert result.exit_code == 4
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert "loading failed before the target graph was touched" in result.stderr
    assert "(tried 3 times)" in result.stderr and "is unchanged (4 triples)" in result.stderr
    assert "the staging graph <urn:kgtool:staging:" in result.stderr and "may remain" in result.stderr
    assert fake.triples_in(TARGET) == 4
    assert [method for method, _, _ in fake.requests][:2] == ["POST", "PUT"]
    assert all(b"MOVE" not in body for _, _, body in fake.requests)


def test_a_server_that_dies_after_the_move_says_the_state_is_unknown(fake: FakeEndpoint) -> None:
    fake.stop_after = 4  # count the target, PUT, count the staging graph, MOVE; then nothing answers
    with pytest.raises(ExternalComponentError) as failure:
        load(endpoint_of(fake), graph_of(2), TARGET)
    assert f"the graph <{TARGET}> at {fake.url} may or may not have been replaced" in failure.value.message
    assert "could not be counted afterwards" in failure.value.message and "(tried 3 times)" in failure.value.message
    assert fake.triples_in(TARGET) == 2  # it was: the error says it cannot tell, which is true


# ---- the real Virtuoso, stopped in the middle of a load ------------------------------------------------

@pytest.fixture()
def private_virtuoso() -> Iterator[tuple[Path, list[VirtuosoServer]]]:
    """A Virtuoso of this test's own (the session's one must keep running), removed at the end."""
    from .virtuoso import find_virtuoso, start_virtuoso

    if find_virtuoso() is None:
        missing("Virtuoso", "scripts/install-virtuoso.sh installs it")
    root = Path(tempfile.mkdtemp(prefix="kgtool-virtuoso-stop-"))
    servers = [start_virtuoso(root)]
    try:
        yield root, servers
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_virtuoso_stopped_mid_load_keeps_the_old_graph(private_virtuoso: tuple[Path, list[VirtuosoServer]],
                                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from .virtuoso import start_virtuoso

    monkeypatch.setenv("HOME", str(tmp_path))
    root, servers = private_virtuoso
    first = servers[0]
    old = connect(first.endpoint, timeout=30, environ={})
    assert load(old, graph_of(5, "old"), TARGET).triples == 5
    data = tmp_path / "new.ttl"
    graph_of(9, "new").serialize(data, format="turtle")
    put = kgtool.endpoint._put_graph_store

    def put_then_stop(*args: object) -> None:
        put(*args)  # type: ignore[arg-type]
        first.sql('REVOKE SPARQL_UPDATE FROM "SPARQL";')  # start_virtuoso grants it again on restart
        first.stop()  # the server goes away between the upload and the move

    monkeypatch.setattr(kgtool.endpoint, "_put_graph_store", put_then_stop)
    result = CliRunner().invoke(main, ["load", "--endpoint", first.endpoint, "--graph", TARGET, "--input", str(data)])
    assert result.exit_code == 4
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert "connection refused (tried 3 times)" in result.stderr
    assert "is unchanged (5 triples)" in result.stderr
    down = CliRunner().invoke(main, ["query", "--endpoint", first.endpoint, "-e", QUERY])
    assert down.exit_code == 4 and "cannot connect: connection refused" in down.stderr
    again = start_virtuoso(root)  # the same database, on new ports
    servers.append(again)
    assert count_triples(connect(again.endpoint, timeout=30, environ={}), TARGET) == 5
