"""kgtool against a real SPARQL server: a private Virtuoso from Debian (the `virtuoso` fixture).

The built graph is loaded into a named graph with `kgtool load`; every saved query then runs on the
server (the named graph as the default graph, parameters bound by VALUES) and must give the rows
the embedded rdflib store gives, in the same order (every saved query has an ORDER BY).

Normalisation, and only this: Virtuoso stores an xsd:decimal with an integral value as xsd:integer
("28700000"^^xsd:decimal comes back as 28700000) and writes decimals in their shortest form
("0.70" as 0.7), so xsd:integer and xsd:decimal literals are compared by numeric value; and a
literal typed xsd:string equals the plain literal (RDF 1.1).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.term import Node

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.endpoint import (
    Endpoint,
    connect,
    count_triples,
    remote_labels,
    run_remote,
    run_saved_remote,
)
from kgtool.errors import BadInputError
from kgtool.namespaces import KGR
from kgtool.queries import (
    SavedQuery,
    adhoc_query,
    find_saved_query,
    list_saved_queries,
    query_form,
    run_saved_query,
    run_sparql,
)
from kgtool.render import query_output

from .conftest import ROOT
from .virtuoso import VirtuosoServer

GRAPH = "urn:kgtool:test:built"
NUMBERS = ("http://www.w3.org/2001/XMLSchema#integer", "http://www.w3.org/2001/XMLSchema#decimal")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
SAVED = [q.name for q in list_saved_queries(ROOT / "queries") if not query_form(q.text).gives_graph]
GRAPH_SAVED = [q.name for q in list_saved_queries(ROOT / "queries") if query_form(q.text).gives_graph]
LABELLED = """\
# title: Entities whose label is the given text
# param: name string Russia The label text, without language tag
# example: kgtool query --file labelled.rq --param name=Russia

SELECT ?entity WHERE {
  ?entity rdfs:label ?label .
  FILTER (STR(?label) = ?name)
}
ORDER BY ?entity
"""
HOSTILE = [
    'Russia" } UNION { ?entity ?p ?o } #',
    'Russia"} UNION {?entity ?p ?o',
    '"} UNION {?entity ?p ?o} #',
    "}", "{", "} UNION { ?entity ?p ?o",
    '"""', "'''", "Russia'", "Russia\\", '\\"} UNION { ?entity ?p ?o } #',
    'a"""\n} UNION { ?entity ?p ?o } #',
    "Russia\n} UNION { ?entity ?p ?o } #",
    '") } UNION { ?entity ?p ?o } #',
    "Russia\" . ?entity ?p ?o . FILTER(\"1\" = \"1",
]


def norm(term: Node | None) -> Any:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return ("iri", str(term))
    if isinstance(term, BNode):
        return ("bnode",)
    assert isinstance(term, Literal)
    datatype = str(term.datatype) if term.datatype is not None else None
    if datatype in NUMBERS:
        return ("number", Decimal(str(term)))
    return ("literal", str(term), None if datatype == XSD_STRING else datatype, term.language)


def rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(norm(t) for t in row) for row in result.rows]


@pytest.fixture(scope="module")
def loaded(virtuoso: VirtuosoServer, built: BuildResult) -> Iterator[Endpoint]:
    """The built graph in the named graph GRAPH, loaded by `kgtool load` (the build itself cached)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("kgtool.build.build", lambda project: built)
        result = CliRunner().invoke(main, ["load", "--endpoint", virtuoso.endpoint, "--graph", GRAPH])
    assert result.exit_code == 0, result.output + result.stderr
    assert f"loaded {len(built.graph)} triples into <{GRAPH}>" in result.stdout
    assert "Graph Store Protocol" in result.stdout
    yield connect(virtuoso.endpoint, default_graph=GRAPH, timeout=60)


@pytest.fixture()
def fast_build(monkeypatch: pytest.MonkeyPatch, built: BuildResult) -> None:
    monkeypatch.setattr("kgtool.build.build", lambda project: built)


def test_load_counts_match(loaded: Endpoint, built: BuildResult) -> None:
    assert count_triples(loaded, GRAPH) == len(built.graph)


@pytest.mark.parametrize("name", SAVED)
def test_saved_query_gives_the_same_rows_on_the_server(loaded: Endpoint, built: BuildResult, name: str) -> None:
    saved = find_saved_query(ROOT / "queries", name)
    local = run_saved_query(built.graph, saved)
    remote = run_saved_remote(loaded, saved)
    assert remote.variables == local.variables
    assert rows(remote) == rows(local), f"{name}: Virtuoso and rdflib differ"
    assert local.rows, f"{name} returns no rows with its defaults: the comparison proves little"
    assert not remote.warnings


@pytest.mark.parametrize("name, params", [
    ("deposit-profile", {"deposit": "kgr:ak-sugsky"}),
    ("deposit-profile", {"deposit": "Ak-Sugsky subsurface area"}),  # a label, looked up on the server
    ("reserve-figures", {"commodity": "kgr:rare-metals"}),
    ("rare-earth-facilities", {"outside": "kgr:russia"}),
    ("rare-earth-facilities", {"outside": "Estonia"}),
    ("state-corporation-deposits", {"country": "kgr:china"}),
    ("foreign-deposit-agreements", {"country": "kgr:china"}),
])
def test_parameters_give_the_same_rows_on_the_server(loaded: Endpoint, built: BuildResult, name: str,
                                                     params: dict[str, str]) -> None:
    saved = find_saved_query(ROOT / "queries", name)
    assert rows(run_saved_remote(loaded, saved, params)) == rows(run_saved_query(built.graph, saved, params))


def test_hostile_string_values_are_bound_not_spliced(loaded: Endpoint, built: BuildResult) -> None:
    """A value holding quotes, braces or `} UNION { ?s ?p ?o` text is one literal, on the server as here."""
    saved = adhoc_query(LABELLED)
    baseline_local = rows(run_saved_query(built.graph, saved))
    baseline_remote = rows(run_saved_remote(loaded, saved))
    assert baseline_local == baseline_remote == [(("iri", str(KGR.russia)),)]
    for value in HOSTILE:
        assert run_saved_query(built.graph, saved, {"name": value}).rows == (), value
        assert run_saved_remote(loaded, saved, {"name": value}).rows == (), value
    # SPARQL expands \\u0022 before parsing: such text cannot reach a server unchanged, so it is refused
    escaped = '\\u0022 } UNION { ?entity ?p ?o } #'
    assert run_saved_query(built.graph, saved, {"name": escaped}).rows == ()
    with pytest.raises(BadInputError, match="cannot send"):
        run_saved_remote(loaded, saved, {"name": escaped})


def test_hostile_values_through_the_command_line(loaded: Endpoint, tmp_path: Path, fast_build: None) -> None:
    query_file = tmp_path / "labelled.rq"
    query_file.write_text(LABELLED, encoding="utf-8")
    server = ["--endpoint", loaded.url, "--graph", GRAPH]
    for where in ([], server):
        ok = CliRunner().invoke(main, ["query", "--file", str(query_file), "--format", "csv", *where])
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.splitlines() == ["entity", str(KGR.russia)]
        for value in HOSTILE[:4]:
            hostile = CliRunner().invoke(main, ["query", "--file", str(query_file), "--param", f"name={value}",
                                                "--format", "csv", *where])
            assert hostile.exit_code == 0, hostile.output
            assert hostile.stdout.splitlines() == ["entity"], value
        # an IRI parameter: a value that is not an IRI is looked up as a label (bound as a literal), and
        # one that looks like an IRI but holds characters SPARQL forbids there is refused before sending
        for value in ('x" } UNION { ?s ?p ?o } #', "kgr:tomtorskoye> } UNION { ?s ?p ?o } #",
                      "<https://w3id.org/kgtool/resource/x> } UNION { ?s ?p ?o . <x>"):
            refused = CliRunner().invoke(main, ["query", "deposit-profile", "--param", f"deposit={value}", *where])
            assert refused.exit_code == 3, refused.output
            assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("name", SAVED)
def test_formats_are_the_same_from_the_server(loaded: Endpoint, built: BuildResult, name: str) -> None:
    saved = find_saved_query(ROOT / "queries", name)
    local = run_saved_query(built.graph, saved)
    remote = run_saved_remote(loaded, saved)
    remote_with_labels = type(remote)(remote.variables, remote.rows, None,
                                      remote_labels(loaded, [t for row in remote.rows for t in row]), form=remote.form)
    # the same cells where the format writes values as text (numbers compared by value)
    def number(cell: str) -> str:
        try:
            return str(Decimal(cell).normalize()) if re.fullmatch(r"-?\d+(\.\d+)?", cell) else cell
        except InvalidOperation:  # pragma: no cover
            return cell

    def table_cells(data: bytes) -> list[list[str]]:
        return [[number(c) for c in re.split(r" {2,}", line.strip())] for line in data.decode().splitlines()
                if set(line) - {"-", " "}]  # the rule under the header is as wide as the widest cell

    def markdown_cells(data: bytes) -> list[list[str]]:
        return [[number(c.strip()) for c in line.strip("|").split(" | ")] for line in data.decode().splitlines()]

    def csv_cells(data: bytes) -> list[list[str]]:
        return [[number(c) for c in row] for row in csv.reader(io.StringIO(data.decode()))]

    for fmt, cells in (("table", table_cells), ("markdown", markdown_cells), ("csv", csv_cells)):
        ours, theirs = query_output(local, fmt, built.graph), query_output(remote_with_labels, fmt)
        assert cells(theirs) == cells(ours), fmt
        assert len(cells(ours)) >= 2, "a header and at least one row"
    # the same terms, read back, where it writes datatypes (which Virtuoso normalises for numbers)
    def from_json(data: bytes) -> list[dict[str, Any]]:
        bindings = json.loads(data)["results"]["bindings"]
        return [{k: (norm(Literal(v["value"], datatype=v.get("datatype"))) if v["type"] == "literal" and "xml:lang"
                     not in v else v) for k, v in b.items()} for b in bindings]

    assert from_json(query_output(remote, "json")) == from_json(query_output(local, "json"))

    def from_xml(data: bytes) -> list[list[tuple[str, str]]]:
        ns = "{http://www.w3.org/2005/sparql-results#}"
        root = ElementTree.fromstring(data)
        return [[(b.get("name") or "", number("".join(b.itertext()))) for b in r.iter(f"{ns}binding")]
                for r in root.iter(f"{ns}result")]

    assert from_xml(query_output(remote, "xml")) == from_xml(query_output(local, "xml"))
    tsv_remote = query_output(remote, "tsv").decode().splitlines()
    assert tsv_remote[0] == query_output(local, "tsv").decode().splitlines()[0]
    assert len(tsv_remote) == len(local.rows) + 1
    assert next(csv.reader(io.StringIO(query_output(remote, "csv").decode()))) == list(local.variables)


def test_every_format_through_the_command_line(loaded: Endpoint, tmp_path: Path) -> None:
    for fmt in ("table", "csv", "tsv", "json", "xml", "markdown"):
        out = tmp_path / f"answer.{fmt}"
        result = CliRunner().invoke(main, ["query", "roadmap", "--endpoint", loaded.url, "--graph", GRAPH,
                                           "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert "wrote 23 rows" in result.stderr
        assert out.stat().st_size > 0
    assert len(json.loads((tmp_path / "answer.json").read_text())["results"]["bindings"]) == 23


def test_ask_construct_and_describe_on_the_server(loaded: Endpoint, built: BuildResult) -> None:
    assert run_remote(loaded, "ASK { kgr:russia a kg:State }").boolean is True
    assert run_remote(loaded, "ASK { kgr:russia a kg:Deposit }").boolean is False
    construct = "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d a kg:Deposit ; rdfs:label ?l }"
    remote, local = run_remote(loaded, construct), run_sparql(built.graph, construct)
    assert remote.graph is not None and local.graph is not None and len(local.graph) > 0
    assert isomorphic(remote.graph, local.graph)
    described = run_remote(loaded, "DESCRIBE kgr:tomtorskoye").graph
    assert described is not None and (KGR.tomtorskoye, None, None) in described
    turtle = query_output(remote, "turtle")
    assert isomorphic(Graph().parse(data=turtle, format="turtle"), local.graph)


def test_load_by_update_and_replace(virtuoso: VirtuosoServer, tmp_path: Path) -> None:
    first, second = tmp_path / "first.ttl", tmp_path / "second.ttl"
    first.write_text("@prefix ex: <https://example.org/> .\n"
                     "ex:a ex:p ex:b , \"x}\" , [ ex:q ex:c ] .\nex:b ex:p ex:c .\n", encoding="utf-8")
    second.write_text("@prefix ex: <https://example.org/> .\nex:z ex:p ex:y .\n", encoding="utf-8")
    target = "urn:kgtool:test:update"
    loaded = CliRunner().invoke(main, ["load", "--endpoint", virtuoso.endpoint, "--graph", target,
                                       "--input", str(first), "--via", "update"])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded 5 triples" in loaded.stdout and "SPARQL Update" in loaded.stdout
    endpoint = connect(virtuoso.endpoint)
    assert count_triples(endpoint, target) == 5
    replaced = CliRunner().invoke(main, ["load", "--endpoint", virtuoso.endpoint, "--graph", target,
                                         "--input", str(second)])
    assert replaced.exit_code == 0, replaced.output
    assert "(it held 5)" in replaced.stdout
    assert count_triples(endpoint, target) == 1
    assert run_remote(endpoint, f"ASK {{ GRAPH <{target}> {{ <https://example.org/z> ?p ?o }} }}").boolean


def test_failed_load_leaves_the_old_graph(virtuoso: VirtuosoServer, tmp_path: Path) -> None:
    """Virtuoso stores "1" and "1.0" (xsd:decimal) as one value: the staging graph comes up short, the
    load stops before touching the target, and says so."""
    target = "urn:kgtool:test:kept"
    good, merged = tmp_path / "good.ttl", tmp_path / "merged.ttl"
    good.write_text("<https://example.org/a> <https://example.org/p> 1 .\n", encoding="utf-8")
    merged.write_text("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n<https://example.org/a> "
                      "<https://example.org/p> \"1\"^^xsd:decimal , \"1.0\"^^xsd:decimal , 2 .\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["load", "--endpoint", virtuoso.endpoint, "--graph", target,
                                     "--input", str(good)]).exit_code == 0
    failed = CliRunner().invoke(main, ["load", "--endpoint", virtuoso.endpoint, "--graph", target,
                                       "--input", str(merged)])
    assert failed.exit_code == 4, failed.output
    assert "holds 2 triples but 3 were sent" in failed.stderr
    assert f"<{target}> at {virtuoso.endpoint} is unchanged (1 triples)" in failed.stderr
    assert "staging graph was removed" in failed.stderr
    endpoint = connect(virtuoso.endpoint)
    assert count_triples(endpoint, target) == 1
    staging = run_remote(endpoint, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                                   "FILTER (STRSTARTS(STR(?g), \"urn:kgtool:staging:\")) }")
    assert staging.rows == ()


def test_a_query_the_server_rejects_is_one_clear_error(loaded: Endpoint, fast_build: None) -> None:
    # valid SPARQL 1.1 that Virtuoso 7.2 cannot evaluate: a path with neither end bound
    result = CliRunner().invoke(main, ["query", "--endpoint", loaded.url, "--graph", GRAPH,
                                       "-e", "SELECT * WHERE { ?a kg:locatedIn+ ?b }"])
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"error: SPARQL endpoint {loaded.url}: HTTP 500")
    assert "transitive start not given" in result.stderr
    assert "SPARQL query:" not in result.stderr and "Traceback" not in result.stderr


def test_saved_queries_cover_every_file() -> None:
    assert (len(SAVED), len(GRAPH_SAVED)) == (8, 1)
    assert all(isinstance(find_saved_query(ROOT / "queries", n), SavedQuery) for n in SAVED + GRAPH_SAVED)


@pytest.mark.parametrize("name", GRAPH_SAVED)
def test_saved_construct_gives_the_same_graph_on_the_server(loaded: Endpoint, built: BuildResult, name: str) -> None:
    from rdflib.compare import graph_diff, isomorphic

    saved = find_saved_query(ROOT / "queries", name)
    local, remote = run_saved_query(built.graph, saved).graph, run_saved_remote(loaded, saved).graph
    assert local is not None and remote is not None and len(local) > 0
    if not isomorphic(local, remote):
        _, only_local, only_remote = graph_diff(local, remote)
        raise AssertionError(f"{name}: only here {sorted(only_local)[:5]}, only on Virtuoso {sorted(only_remote)[:5]}")
