"""`kgtool query` on the built graph: saved and ad-hoc queries, parameters, every output format,
--output, --timeout and the errors. In process with CliRunner; outputs are read back with parsers.

The build itself is tested elsewhere: here the command gets the session's build (`fast_build`).
"""
from __future__ import annotations

import csv
import io
import json
import multiprocessing
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.errors import BadInputError
from kgtool.namespaces import KGR
from kgtool.queries import (
    Parameter,
    QueryForm,
    adhoc_query,
    find_saved_query,
    query_form,
    resolve_term,
    run_saved_query,
    run_sparql,
)

from .conftest import ROOT

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
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


@pytest.fixture(autouse=True)
def fast_build(monkeypatch: pytest.MonkeyPatch, built: BuildResult) -> None:
    monkeypatch.setattr("kgtool.build.build", lambda project: built)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["query", *args])


def raw(result: Any) -> str:
    """Standard output as written (click's `stdout` turns CRLF into LF)."""
    return str(result.stdout_bytes.decode("utf-8"))


# ---- saved queries: list, describe, parameters -----------------------------------------------------

def test_list_shows_every_saved_query_with_its_defaults() -> None:
    result = run("--list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
    assert "[subject=kgr:russia] [commodity=kgr:rare-earth-metals]" in result.stdout


@pytest.mark.parametrize("flag", ["--describe", "--help-query"])
def test_describe_explains_a_saved_query(flag: str) -> None:
    result = run("reserve-figures", flag)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("reserve-figures: Every reported figure for a country's reserves of a commodity")
    assert "Each reserves claim (kg:measure kgv:reserves)" in out
    assert "subject    iri      default kgr:russia" in out
    assert "commodity  iri      default kgr:rare-earth-metals" in out
    assert "What the figures are about (kg:claimSubject)" in out
    assert "Example:\n  kgtool query reserve-figures --param subject=kgr:russia" in out
    assert "Parameters: none" in run("source-documents", flag).stdout


def test_describe_needs_a_name_and_unknown_names_are_bad_input() -> None:
    assert run("--describe").exit_code == 2
    unknown = run("no-such-query", "--describe")
    assert unknown.exit_code == 3 and "known queries: conflicting-claims" in unknown.stderr


def test_parameters_by_label_prefixed_name_and_iri(built: BuildResult) -> None:
    answers = [raw(run("deposit-profile", "--param", f"deposit={value}", "--format", "csv"))
               for value in ("Ak-Sugsky subsurface area", "kgr:ak-sugsky", f"<{KGR['ak-sugsky']}>", str(KGR["ak-sugsky"]))]
    assert len(set(answers)) == 1 and answers[0].count("\r\n") == 8


def test_unknown_ambiguous_and_malformed_parameters() -> None:
    ambiguous = run("deposit-profile", "--param", "deposit=roadmap")
    assert ambiguous.exit_code == 3
    assert "'roadmap' names 2 entities: kg:Roadmap, kgr:rare-earth-roadmap" in ambiguous.stderr
    unknown = run("deposit-profile", "--param", "deposit=Atlantis")
    assert unknown.exit_code == 3 and "no entity is labelled 'Atlantis'" in unknown.stderr
    wrong_name = run("deposit-profile", "--param", "country=kgr:russia")
    assert wrong_name.exit_code == 3 and "has no parameter country" in wrong_name.stderr
    assert run("deposit-profile", "--param", "no-equals-sign").exit_code == 2
    for text, kind in (("12x", "integer"), ("2025-13-01", "date"), ("1 May", "date")):
        with pytest.raises(BadInputError):
            resolve_term(Parameter("p", kind, None, ""), text, lambda _: [])
    assert resolve_term(Parameter("p", "date", None, ""), "2025-02-26", lambda _: []) == \
        Literal("2025-02-26", datatype=URIRef("http://www.w3.org/2001/XMLSchema#date"))


def test_hostile_values_cannot_change_what_a_query_means(tmp_path: Path, built: BuildResult) -> None:
    """A string parameter is one literal whatever it holds: no value returns more rows than the query
    would for a label; an IRI parameter holding characters that could end an IRI is refused."""
    saved = adhoc_query(LABELLED)
    assert [row[0] for row in run_saved_query(built.graph, saved).rows] == [KGR.russia]
    for value in ('Russia" } UNION { ?entity ?p ?o } #', "}", "{", "} UNION { ?entity ?p ?o", '"""',
                  "Russia\\", '\\" } UNION { ?entity ?p ?o } #', "Russia\n} UNION { ?entity ?p ?o } #"):
        assert run_saved_query(built.graph, saved, {"name": value}).rows == (), value
    query_file = tmp_path / "labelled.rq"
    query_file.write_text(LABELLED, encoding="utf-8")
    hostile = run("--file", str(query_file), "--param", 'name=Russia" } UNION { ?entity ?p ?o } #', "-f", "csv")
    assert hostile.exit_code == 0 and raw(hostile) == "entity\r\n"
    for value in ("kgr:tomtorskoye> } UNION { ?s ?p ?o } #", "<https://w3id.org/kgtool/resource/x> } UNION { <y>",
                  "https://w3id.org/kgtool/resource/x {"):
        refused = run("deposit-profile", "--param", f"deposit={value}")
        assert refused.exit_code == 3 and "is not a valid absolute IRI" in refused.stderr, value


# ---- ad-hoc queries: every form -----------------------------------------------------------------

def test_every_query_form(tmp_path: Path, built: BuildResult) -> None:
    select = run("-e", "SELECT ?label WHERE { kgr:russia rdfs:label ?label }", "-f", "csv")
    assert select.exit_code == 0 and raw(select) == "label\r\nRussia\r\n"
    assert run("-e", "ASK { kgr:russia a kg:State }").stdout == "true\n"
    assert run("-e", "ASK { kgr:russia a kg:Deposit }", "-f", "json").stdout.strip() == \
        json.dumps({"head": {}, "boolean": False}, indent=2)
    construct = "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d a kg:Deposit ; rdfs:label ?l }"
    turtle = run("-e", construct)
    assert turtle.exit_code == 0
    expected = run_sparql(built.graph, construct).graph
    assert expected is not None and len(expected) > 0
    assert isomorphic(Graph().parse(data=turtle.stdout, format="turtle"), expected)
    jsonld = run("-e", construct, "-f", "jsonld")
    assert isomorphic(Graph().parse(data=jsonld.stdout, format="json-ld"), expected)
    described = run("-e", "DESCRIBE kgr:tomtorskoye")
    assert (KGR.tomtorskoye, None, None) in Graph().parse(data=described.stdout, format="turtle")
    query_file = tmp_path / "q.rq"
    query_file.write_text("SELECT ?d WHERE { ?d a kg:Deposit } ORDER BY ?d", encoding="utf-8")
    from_file = run("--file", str(query_file), "-f", "tsv")
    assert from_file.exit_code == 0 and from_file.stdout.startswith("?d\n<https://w3id.org/kgtool/resource/")
    assert query_form("DESCRIBE <x>") is QueryForm.DESCRIBE


def test_select_star_lists_variables_in_the_order_they_appear() -> None:
    result = run("-e", "SELECT * WHERE { ?subject rdfs:label ?label . ?subject a ?type } LIMIT 1", "-f", "tsv")
    assert result.stdout.splitlines()[0] == "?subject\t?label\t?type"


def test_bad_queries_are_bad_input() -> None:
    syntax = run("-e", "SELECT ?x WHERE { ?x a kg:Deposit ")
    assert syntax.exit_code == 3 and "not valid SPARQL" in syntax.stderr
    update = run("-e", "INSERT DATA { kgr:a kgr:b kgr:c }")
    assert update.exit_code == 3 and "SPARQL Update" in update.stderr
    assert run("reserve-figures", "-e", "ASK {}").exit_code == 2
    assert run("--file", "/nonexistent/q.rq").exit_code == 3


# ---- formats ------------------------------------------------------------------------------------

def test_every_row_format_reads_back_to_the_same_answer(built: BuildResult) -> None:
    result = run_saved_query(built.graph, find_saved_query(ROOT / "queries", "reserve-figures"))
    variables, count = list(result.variables), len(result.rows)
    outputs = {fmt: run("reserve-figures", "--format", fmt) for fmt in ("table", "csv", "tsv", "json", "xml", "markdown")}
    assert all(o.exit_code == 0 for o in outputs.values())
    # CSV: SPARQL 1.1 CSV, CRLF lines, plain values
    assert raw(outputs["csv"]).count("\r\n") == count + 1
    table = list(csv.reader(io.StringIO(outputs["csv"].stdout)))
    assert table[0] == variables and len(table) == count + 1
    assert {row[variables.index("value")] for row in table[1:]} <= {"28700000.0", "28500000.0", "28700000", "28500000"}
    # TSV: ?variables, terms in SPARQL syntax
    tsv = outputs["tsv"].stdout.splitlines()
    assert tsv[0].split("\t") == [f"?{v}" for v in variables]
    assert tsv[1].split("\t")[0] == f"<{KGR.russia}>" and '"Russia"@en' in tsv[1]
    # JSON and XML: SPARQL 1.1 Query Results
    document = json.loads(outputs["json"].stdout)
    assert document["head"]["vars"] == variables and len(document["results"]["bindings"]) == count
    assert document["results"]["bindings"][0]["subject"] == {"type": "uri", "value": str(KGR.russia)}
    root = ElementTree.fromstring(outputs["xml"].stdout)
    ns = "{http://www.w3.org/2005/sparql-results#}"
    assert [v.get("name") for v in root.iter(f"{ns}variable")] == variables
    assert len(list(root.iter(f"{ns}result"))) == count
    # Markdown and the table: prefixed names with labels beside them
    markdown = outputs["markdown"].stdout.splitlines()
    assert markdown[0] == "| " + " | ".join(variables) + " |" and len(markdown) == count + 2
    assert "kgr:russia (Russia)" in markdown[2]
    lines = outputs["table"].stdout.splitlines()
    assert lines[0].split() == variables and lines[-1] == f"({count} rows)"
    assert lines[2].startswith("kgr:russia (Russia)  Russia")


def test_a_format_that_does_not_fit_the_answer_is_a_usage_error() -> None:
    assert run("reserve-figures", "--format", "turtle").exit_code == 2
    assert run("-e", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 1", "--format", "csv").exit_code == 2


def test_output_is_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "answer.json"
    target.write_text("old answer")
    result = run("roadmap", "--format", "json", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert "wrote 23 rows as json" in result.stderr
    assert len(json.loads(target.read_text())["results"]["bindings"]) == 23
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.json"]  # no temporary file left
    graph_file = tmp_path / "deposits.ttl"
    run("-e", "CONSTRUCT { ?d a kg:Deposit } WHERE { ?d a kg:Deposit }", "--output", str(graph_file))
    assert len(Graph().parse(graph_file, format="turtle")) == 3
    failed = run("-e", "SELECT ?x WHERE {", "--output", str(target))
    assert failed.exit_code == 3 and len(json.loads(target.read_text())["results"]["bindings"]) == 23


# ---- the time limit ----------------------------------------------------------------------------------

def test_timeout_stops_a_runaway_query() -> None:
    result = run("-e", RUNAWAY, "--timeout", "1")  # the query would run for ever: returning at all is the point
    assert result.exit_code == 4, result.output
    assert "the query gave no answer within 1 s (--timeout) and was stopped" in result.stderr
    assert multiprocessing.active_children() == []  # the engine's process was stopped, not left running


def test_timeout_gives_the_answer_when_there_is_time(built: BuildResult) -> None:
    saved = find_saved_query(ROOT / "queries", "conflicting-claims")
    assert run_saved_query(built.graph, saved, timeout=60) == run_saved_query(built.graph, saved)
    result = run("conflicting-claims", "--timeout", "60", "-f", "csv")
    assert result.exit_code == 0 and raw(result).count("\r\n") == 5
    bad = run("-e", "SELECT ?x WHERE { ?x ?y }", "--timeout", "5")
    assert bad.exit_code == 3
    assert run("-e", "ASK {}", "--timeout", "0").exit_code == 2
