"""The embedded store (kgtool.store, kgtool.cache): Oxigraph answers every saved query as rdflib does, on the
shipped graph and on synthetic graphs; stores on disk are reused, replaced whole or not at all; the same file
gives the same bytes; bad files and bad bindings give clear errors."""
from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kgtool.build import BuildResult
from kgtool.cache import built_store, cache_folder, fill_store, input_fingerprint
from kgtool.cli import main
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool import namespaces
from kgtool.namespaces import KGR, RDFS
from kgtool.queries import QueryTimeoutError, list_saved_queries, run_saved_query, run_sparql
from kgtool.store import Engine, Store, to_oxigraph, to_rdflib
from kgtool.synth import synth

INTEGER_TYPES = {str(namespaces.XSD[t]) for t in ("integer", "int", "long", "nonNegativeInteger", "positiveInteger",
                                        "negativeInteger", "nonPositiveInteger", "short", "byte")}
NUMBER_TYPES = INTEGER_TYPES | {str(namespaces.XSD.decimal)}


def same_value(term: Node | None) -> Any:
    """A term as a comparable value: numbers by value (Oxigraph keeps them in canonical form), the rest exactly."""
    if isinstance(term, Literal) and term.datatype is not None and str(term.datatype) in NUMBER_TYPES:
        return ("number", Decimal(str(term)))
    if isinstance(term, Literal):
        return ("literal", str(term), str(term.datatype) if term.datatype else None,
                term.language.lower() if term.language else None)
    return term


def rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(same_value(t) for t in row) for row in result.rows]


def compare_engines(graph: Graph, project: Project) -> int:
    """Every saved query (default parameters) on rdflib's engine and on Oxigraph; returns the rows compared."""
    store = Store.from_graph(graph)
    compared = 0
    for saved in list_saved_queries(project.queries):
        reference = run_saved_query(graph, saved, engine=Engine.RDFLIB)
        ours = run_saved_query(store, saved)
        assert ours.form is reference.form, saved.name
        if reference.graph is not None:
            assert ours.graph is not None
            assert {tuple(same_value(t) for t in triple) for triple in ours.graph} == \
                {tuple(same_value(t) for t in triple) for triple in reference.graph}, saved.name
            compared += len(reference.graph)
            continue
        assert ours.variables == reference.variables, saved.name
        assert rows(ours) == rows(reference), f"{saved.name}: rdflib and Oxigraph differ"
        compared += len(reference.rows)
    return compared


# ---- the same answers on both engines --------------------------------------------------------------

def test_every_saved_query_gives_the_same_rows_on_the_shipped_graph(built: BuildResult, project: Project) -> None:
    assert compare_engines(built.graph, project) > 100


@pytest.mark.parametrize("size,seed", [(8_000, 7), (15_000, 42)])
def test_every_saved_query_gives_the_same_rows_on_synthetic_graphs(size: int, seed: int, project: Project) -> None:
    graph = synth(size, seed).graph
    assert compare_engines(graph, project) > 20


def test_a_value_for_a_variable_the_query_does_not_project_is_still_bound(built: BuildResult) -> None:
    """Oxigraph substitutes projected variables only; the others are bound by a VALUES block, same rows."""
    text = "SELECT ?entity WHERE { ?entity rdfs:label ?label . FILTER (STR(?label) = ?name) } ORDER BY ?entity"
    bindings = {"name": Literal("Russia")}
    ours = run_sparql(built.graph, text, bindings)
    reference = run_sparql(built.graph, text, bindings, engine=Engine.RDFLIB)
    assert ours.rows == reference.rows == ((KGR.russia,),)


@pytest.mark.parametrize("hostile", ['Russia" } ?s ?p ?o { "', "Russia'>\n} #", "\\u0022 UNION {", 'x"@en . }'])
def test_hostile_values_stay_values(built: BuildResult, hostile: str) -> None:
    projected = "SELECT ?entity ?name WHERE { ?entity rdfs:label ?name }"
    assert run_sparql(built.graph, projected, {"name": Literal(hostile)}).rows == ()  # substituted as a term
    text = "SELECT ?entity WHERE { ?entity rdfs:label ?name }"  # bound by VALUES, or by rdflib for \\u text
    assert run_sparql(built.graph, text, {"name": Literal(hostile)}).rows == ()
    russia = run_sparql(built.graph, text, {"name": Literal("Russia", lang="en")}).rows
    assert russia == ((KGR.russia,),)


def test_terms_cross_between_the_libraries_unchanged() -> None:
    for term in (URIRef("https://example.org/a"), BNode("b1"), Literal("plain"), Literal("chat", lang="fr"),
                 Literal("2023-01", datatype=namespaces.XSD.gYearMonth), Literal("a \"quoted\"\nline")):
        assert to_rdflib(to_oxigraph(term)) == term


# ---- stores from files -------------------------------------------------------------------------------

def test_the_same_file_gives_the_same_bytes_in_every_kind_of_store(tmp_path: Path) -> None:
    source = tmp_path / "s.nt"
    text = synth(3_000, 5)
    source.write_text(text.graph.serialize(format="nt"), encoding="utf-8")
    first = Store.in_memory()
    first.load(source)
    second = Store.on_disk(tmp_path / "disk")
    second.load(source)
    for fmt in ("ntriples", "turtle"):
        assert first.serialise(fmt) == second.serialise(fmt)
    reread = Graph().parse(data=first.serialise("turtle").decode("utf-8"), format="turtle")
    assert len(reread) == len(first) == len(text.graph)


def test_quads_are_merged_into_the_default_graph(tmp_path: Path) -> None:
    source = tmp_path / "q.nq"
    source.write_text('<urn:a> <urn:p> "1" <urn:g1> .\n<urn:b> <urn:p> "2" .\n_:x <urn:p> "3" <urn:g2> .\n',
                      encoding="utf-8")
    store = Store.in_memory()
    store.load(source)
    assert run_sparql(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0].toPython() == 3


@pytest.mark.parametrize("name,text,needle", [
    ("broken.ttl", "<urn:a> <urn:p> \"unterminated .\n", "malformed RDF"),
    ("broken.nt", "<urn:a> <urn:p> <urn:o>\n", "malformed RDF"),
    ("data.csv", "a,b\n", "cannot tell the RDF format"),
])
def test_bad_files_are_named(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInputError, match=needle) as caught:
        Store.in_memory().load(path)
    assert caught.value.path == path


def test_a_failed_fill_leaves_the_old_store(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.nt", tmp_path / "bad.ttl"
    good.write_text("<urn:a> <urn:p> <urn:o> .\n<urn:a> <urn:p> <urn:o2> .\n", encoding="utf-8")
    bad.write_text("<urn:a> <urn:p> .\n", encoding="utf-8")
    target = tmp_path / "graph.store"
    assert len(fill_store(target, files=[good])) == 2
    with pytest.raises(BadInputError):
        fill_store(target, files=[bad])
    assert len(Store.read_only(target)) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_append_adds_and_replace_replaces(tmp_path: Path) -> None:
    one, two = tmp_path / "one.nt", tmp_path / "two.nt"
    one.write_text("<urn:a> <urn:p> <urn:o> .\n_:b <urn:p> <urn:o> .\n", encoding="utf-8")
    two.write_text("<urn:c> <urn:p> <urn:o> .\n_:b <urn:p> <urn:o> .\n", encoding="utf-8")
    target = tmp_path / "s"
    fill_store(target, files=[one])
    assert len(fill_store(target, files=[two], append=True)) == 4  # the two files' _:b are different nodes
    assert len(fill_store(target, files=[two])) == 2


def test_a_folder_that_is_not_a_store_is_not_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    source = tmp_path / "x.nt"
    source.write_text("<urn:a> <urn:p> <urn:o> .\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="not a kgtool store"):
        fill_store(folder, files=[source])
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_reading_a_missing_store_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="kgtool store"):
        Store.read_only(tmp_path / "nothing")


# ---- the build cache ---------------------------------------------------------------------------------

def test_the_cache_is_reused_until_an_input_changes(project_copy: Project) -> None:
    first = built_store(project_copy)
    identity = (cache_folder(project_copy) / "kgtool-store.json").stat().st_ino
    labels = {str(o) for o in first.objects(KGR.russia, RDFS.label)}
    assert labels == {"Russia"}
    del first
    again = built_store(project_copy)
    assert (cache_folder(project_copy) / "kgtool-store.json").stat().st_ino == identity, "rebuilt for nothing"
    del again
    entities = project_copy.data / "entities.yaml"
    before = input_fingerprint(project_copy)
    entities.write_text(entities.read_text(encoding="utf-8").replace("label: Russia\n", "label: Russian Federation\n",
                                                                     1), encoding="utf-8")
    assert input_fingerprint(project_copy) != before
    changed = built_store(project_copy)
    assert {str(o) for o in changed.objects(KGR.russia, RDFS.label)} == {"Russian Federation"}


def test_the_cache_lives_where_kgtool_cache_says(project: Project, private_cache: Path) -> None:
    assert os.environ["KGTOOL_CACHE"] == str(private_cache)
    assert cache_folder(project).parent == private_cache


# ---- time limits on stores -----------------------------------------------------------------------------

CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_a_time_limit_stops_a_query_on_a_store_in_memory(built: BuildResult) -> None:
    with pytest.raises(QueryTimeoutError):
        run_sparql(Store.from_graph(built.graph), CARTESIAN, timeout=0.5)


def test_a_time_limit_stops_a_query_on_a_store_on_disk(tmp_path: Path, project: Project) -> None:
    store = fill_store(tmp_path / "s", project=project)
    with pytest.raises(QueryTimeoutError):
        run_sparql(store, CARTESIAN, timeout=0.5)
    assert run_sparql(store, "ASK { ?s a kg:Deposit }", timeout=30).boolean is True


# ---- the command line ------------------------------------------------------------------------------------

def test_synth_store_query_and_export_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "s.nt"
    made = runner.invoke(main, ["synth", "--triples", "4000", "--seed", "3", "--output", str(data)])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "s.nt.manifest.json").is_file()
    stored = runner.invoke(main, ["store", str(tmp_path / "s.store"), str(data)])
    assert stored.exit_code == 0, stored.output
    count = len(Graph().parse(data, format="nt"))
    assert f"stored {count} triples" in stored.output
    asked = runner.invoke(main, ["query", "-e", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--format", "csv",
                                 "--store", str(tmp_path / "s.store")])
    assert asked.exit_code == 0, asked.output
    assert asked.stdout.splitlines()[1] == str(count)
    first = runner.invoke(main, ["export", "--store", str(tmp_path / "s.store"), "-f", "turtle"])
    second = runner.invoke(main, ["export", "--store", str(tmp_path / "s.store"), "-f", "turtle",
                                  "-o", str(tmp_path / "out.ttl")])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == (tmp_path / "out.ttl").read_bytes()
    assert len(Graph().parse(tmp_path / "out.ttl", format="turtle")) == count


def test_command_line_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    too_small = runner.invoke(main, ["synth", "--triples", "10", "--output", str(tmp_path / "x.nt")])
    assert too_small.exit_code == 3 and "at least" in too_small.output and "Traceback" not in too_small.output
    assert not (tmp_path / "x.nt").exists()
    both = runner.invoke(main, ["query", "reserve-figures", "--store", str(tmp_path), "--endpoint", "http://127.0.0.1:9"])
    assert both.exit_code == 2 and "not both" in both.output
    nq = runner.invoke(main, ["export", "--store", str(tmp_path), "-f", "nquads"])
    assert nq.exit_code == 2
    empty = runner.invoke(main, ["query", "reserve-figures", "--store", str(tmp_path)])
    assert empty.exit_code == 3 and "kgtool store" in empty.output


def test_build_store_then_query_it(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--output", str(tmp_path / "g.ttl"), "--store", str(tmp_path / "g.store")])
    assert result.exit_code == 0, result.output
    asked = runner.invoke(main, ["query", "reserve-figures", "--format", "csv", "--store", str(tmp_path / "g.store")])
    assert asked.exit_code == 0, asked.output
    assert "28.7 million tonnes" in asked.stdout


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="urn:ex:">
  <rdf:Description rdf:about="urn:ex:a"><ex:p>&f;</ex:p></rdf:Description>
</rdf:RDF>
"""


@pytest.mark.parametrize("name,text", [
    ("laughs.rdf", BILLION_LAUGHS),
    ("remote.jsonld", '{"@context": "https://example.org/context.jsonld", "@id": "urn:a", "p": "x"}'),
])
def test_a_hostile_file_is_refused_before_oxigraph_reads_it(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        Store.in_memory().load(path)
    assert caught.value.path == path
    with pytest.raises(BadInputError):
        fill_store(tmp_path / "s", files=[path])
    assert not (tmp_path / "s").exists()


def test_a_local_query_has_a_time_limit_even_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cartesian product never runs forever: `kgtool query` applies DEFAULT_LOCAL_TIMEOUT (shortened here)."""
    monkeypatch.setattr("kgtool.queries.DEFAULT_LOCAL_TIMEOUT", 0.5)
    result = CliRunner().invoke(main, ["query", "-e", CARTESIAN])
    assert result.exit_code == 4, result.output
    assert "no answer within 0.5 s" in result.output and "Traceback" not in result.output
