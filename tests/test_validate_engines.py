"""`kgtool validate --engine auto|pyshacl|sparql`, `--store` and `--endpoint`: every engine, the same results.

The engine switch (kgtool.validation) takes pySHACL for small graphs and the SPARQL engine for big ones,
says on stderr which ran on how many triples, and why auto did not take the SPARQL engine where it
would have; both write the same `--format json`, on the shipped graph and on synthetic graphs with
planted violations. Data files go straight into Oxigraph for the SPARQL engine, never through rdflib.
A persistent store (`kgtool store`) is validated where it is, with the same results. On a real Virtuoso
(the `virtuoso` fixture) the same compiled checks run where the graph lives and give pySHACL's results
with the project's own shapes, the control cycles included (found here from the steps of the path:
Virtuoso's transitive paths skip cycles). On `kgtool serve` (Oxigraph, which keeps literals only in
canonical form) they give pySHACL's results but for a value written with the wrong integer type, as
the warning says; on a served store that keeps the verbatim copies, exactly pySHACL's results.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rdflib import Graph

from kgtool import rdfio
from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.cache import fill_store
from kgtool.endpoint import Endpoint, connect, load, probe
from kgtool.rdfio import load_graph
from kgtool.render import validation_json
from kgtool.serve import make_app, running_server
from kgtool.store import Store
from kgtool.synth import synth, write_synth
from kgtool.validate import Inference, ValidationReport, _results, load_shapes, validate
from kgtool.validation import AUTO_SPARQL_FROM, Engine, validate_with

from .virtuoso import VirtuosoServer

SHIPPED = "urn:kgtool:test:validate:shipped"
SYNTHETIC = "urn:kgtool:test:validate:synthetic"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def fast_build(monkeypatch: pytest.MonkeyPatch, built: BuildResult) -> None:
    """`kgtool validate` without DATA validates the built graph: built once for the session."""
    monkeypatch.setattr("kgtool.build.build", lambda project: built)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[tuple[Any, ...]]]:
    """A synthetic graph as N-Triples, and the results planted in it."""
    path = tmp_path_factory.mktemp("synth") / "synth.nt"
    manifest = write_synth(path, 5_000, 11)
    return path, Counter(v.key() for v in manifest.violations)


def keys(report: ValidationReport) -> Counter[tuple[Any, ...]]:
    return Counter((r.focus_node, r.result_path, r.source_constraint_component, r.severity.iri) for r in report.results)


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, ["validate", *args])


# ------------------------------------------------------------------------------------------------ the engine switch

def test_auto_takes_pyshacl_for_the_shipped_graph(built: BuildResult, project: Project) -> None:
    done = validate_with(built.graph, load_shapes([project.shapes]))
    assert done.engine is Engine.PYSHACL and done.triples == len(built.graph) < AUTO_SPARQL_FROM
    assert done.report.results and not done.report.fails()


def test_auto_takes_the_sparql_engine_from_the_threshold_up(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "big.nt"
    manifest = write_synth(path, AUTO_SPARQL_FROM + 2_000, 4)
    done = validate_with([path], load_shapes([project.shapes]), ontology=sorted(project.ontology.glob("*.ttl")))
    assert done.engine is Engine.SPARQL and done.triples is not None and done.triples >= AUTO_SPARQL_FROM
    assert keys(done.report) == Counter(v.key() for v in manifest.violations)


def test_inference_is_pyshacls_whatever_the_size(built: BuildResult, project: Project) -> None:
    shapes = load_shapes([project.shapes])
    done = validate_with(built.graph, shapes, inference=Inference.RDFS)
    assert done.engine is Engine.PYSHACL
    with pytest.raises(Exception, match="needs the pySHACL engine"):
        validate_with(built.graph, shapes, engine=Engine.SPARQL, inference=Inference.RDFS)


# ------------------------------------------------------------------------------------------------ the same output

def test_both_engines_write_the_same_json_for_the_shipped_graph(runner: CliRunner, fast_build: None) -> None:
    outputs = {}
    for engine in ("pyshacl", "sparql"):
        result = invoke(runner, "--engine", engine, "--format", "json")
        assert result.exit_code == 0, result.output + result.stderr
        outputs[engine] = result.stdout
    assert outputs["pyshacl"] == outputs["sparql"]
    assert json.loads(outputs["sparql"]), "the shipped graph has infos"


def test_both_engines_write_the_same_json_for_planted_violations(
        runner: CliRunner, planted: tuple[Path, Counter[tuple[Any, ...]]], project: Project) -> None:
    path, expected = planted
    outputs = {}
    for engine in ("pyshacl", "sparql"):
        result = invoke(runner, str(path), "--engine", engine, "--format", "json")
        assert result.exit_code == 1, result.output + result.stderr
        outputs[engine] = result.stdout
    assert outputs["pyshacl"] == outputs["sparql"]
    found = Counter((r["focusNode"], r["resultPath"], r["sourceConstraintComponent"], r["resultSeverity"])
                    for r in json.loads(outputs["sparql"]))
    assert found == Counter(tuple(None if t is None else str(t) for t in key) for key in expected.elements())


@pytest.mark.parametrize("out_format", ["text", "junit", "turtle"])
def test_every_format_is_the_same_from_both_engines(runner: CliRunner, planted: tuple[Path, Counter[tuple[Any, ...]]],
                                                   tmp_path: Path, out_format: str) -> None:
    path, _ = planted
    written = {}
    for engine in ("pyshacl", "sparql"):
        target = tmp_path / f"{engine}.out"
        result = invoke(runner, str(path), "--engine", engine, "--format", out_format, "--output", str(target))
        assert result.exit_code == 1, result.output + result.stderr
        assert result.stderr.strip().startswith("fails:")
        written[engine] = target.read_text(encoding="utf-8")
    if out_format == "turtle":  # blank node labels differ: compare the results the graphs state
        graphs = {engine: Graph().parse(data=text, format="turtle") for engine, text in written.items()}
        assert _results(graphs["pyshacl"]) == _results(graphs["sparql"])
    else:
        assert written["pyshacl"] == written["sparql"]


def test_data_files_go_straight_into_oxigraph(runner: CliRunner, planted: tuple[Path, Counter[tuple[Any, ...]]],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = planted
    parse_into = rdfio.parse_into

    def guarded(graph: Graph, source: Path, *args: Any, **kwargs: Any) -> None:
        if Path(source) == path:
            raise AssertionError("the data file went through rdflib")
        parse_into(graph, source, *args, **kwargs)

    monkeypatch.setattr(rdfio, "parse_into", guarded)  # every rdflib parse of a file in kgtool goes through it
    result = invoke(runner, str(path), "--engine", "sparql", "--format", "json")
    assert result.exit_code == 1, result.output + result.stderr
    assert len(json.loads(result.stdout)) == sum(expected.values())
    with pytest.raises(AssertionError, match="through rdflib"):  # the guard does catch rdflib reading it
        load_graph(path)


# ------------------------------------------------------------------------------------------------ what is refused

@pytest.mark.parametrize("args, message", [
    (["--graph", "urn:g"], "need --endpoint"),
    (["--timeout", "5"], "need --endpoint"),
    (["--engine", "sparql", "--inference", "rdfs"], "needs the pySHACL engine"),
    (["--endpoint", "http://127.0.0.1:9/sparql", "--engine", "pyshacl"], "SPARQL engine"),
    (["data.ttl", "--endpoint", "http://127.0.0.1:9/sparql"], "not both"),
    (["--engine", "jena"], "jena"),
])
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], message: str) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_malformed_data_for_the_sparql_engine_is_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "bad.nt"
    data.write_text("<urn:a> <urn:b> \"unclosed .\n", encoding="utf-8")
    result = invoke(runner, str(data), "--engine", "sparql")
    assert result.exit_code == 3 and "bad.nt" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_endpoint_exits_4(runner: CliRunner, no_network: None) -> None:
    result = invoke(runner, "--endpoint", "http://127.0.0.1:9/sparql", "--graph", "urn:g", "--timeout", "5")
    assert result.exit_code == 4 and "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ which engine ran

def test_stderr_says_which_engine_ran_on_how_many_triples(runner: CliRunner, fast_build: None,
                                                          built: BuildResult) -> None:
    result = invoke(runner, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [f"validated {len(built.graph):,} triples with pySHACL"]
    result = invoke(runner, "--format", "json", "--engine", "sparql")
    assert result.stderr.splitlines() == [f"validated {len(built.graph):,} triples with the SPARQL engine"]


UNSUPPORTED_TOO = """@prefix sh: <http://www.w3.org/ns/shacl#> .
<https://w3id.org/kgtool/shapes#Extra> a sh:NodeShape ; sh:targetClass <https://w3id.org/kgtool/ontology#Deposit> ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?o } LIMIT 1" ] .
"""


def test_auto_says_why_it_did_not_take_the_sparql_engine(runner: CliRunner, tmp_path: Path, project: Project) -> None:
    """From AUTO_SPARQL_FROM triples up auto takes the SPARQL engine; shapes it does not support make it
    run pySHACL instead, and the user is told so and why (a warning on stderr, the results unchanged)."""
    data = tmp_path / "big.nt"
    write_synth(data, AUTO_SPARQL_FROM + 1_000, 4)
    extra = tmp_path / "extra.ttl"
    extra.write_text(UNSUPPORTED_TOO, encoding="utf-8")
    result = invoke(runner, str(data), "--shapes", str(project.shapes), "--shapes", str(extra), "--format", "json")
    assert result.exit_code == 1, result.stderr
    summary, warning = result.stderr.splitlines()
    assert summary.startswith("validated ") and summary.endswith(" triples with pySHACL")
    assert warning.startswith("warning: --engine auto validated ") and "not the SPARQL engine" in warning
    assert "does not support" in warning and "LIMIT" in warning
    refused = invoke(runner, str(data), "--shapes", str(project.shapes), "--shapes", str(extra), "--engine", "sparql")
    assert refused.exit_code == 3 and "LIMIT" in refused.stderr


# ------------------------------------------------------------------------------------------------ a persistent store

@pytest.fixture(scope="module")
def stored(planted: tuple[Path, Counter[tuple[Any, ...]]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted synthetic graph in a persistent store, as `kgtool store` fills it."""
    folder = tmp_path_factory.mktemp("store") / "synth.store"
    result = CliRunner().invoke(main, ["store", str(folder), str(planted[0])])
    assert result.exit_code == 0, result.output
    return folder


def test_a_store_is_validated_where_it_is_with_pyshacls_results(
        runner: CliRunner, stored: Path, planted: tuple[Path, Counter[tuple[Any, ...]]], project: Project) -> None:
    path, expected = planted
    done = validate_with(Store.read_only(stored), load_shapes([project.shapes]))
    assert done.engine is Engine.SPARQL and keys(done.report) == expected
    from_store = invoke(runner, "--store", str(stored), "--format", "json")
    from_file = invoke(runner, str(path), "--engine", "pyshacl", "--format", "json")
    assert from_store.exit_code == from_file.exit_code == 1, from_store.stderr + from_file.stderr
    assert from_store.stdout == from_file.stdout
    assert from_store.stderr.splitlines()[-1] == f"validated {done.triples:,} triples with the SPARQL engine"
    assert done.triples == len(Graph().parse(path, format="nt")), "the store's own graphs are not data"


def test_a_store_is_not_validated_by_pyshacl(runner: CliRunner, stored: Path) -> None:
    result = invoke(runner, "--store", str(stored), "--engine", "pyshacl")
    assert result.exit_code == 2 and "--store validates with the SPARQL engine" in result.stderr
    with pytest.raises(BadInputError, match="pySHACL cannot validate a store"):
        validate_with(Store.read_only(stored), Graph(), engine=Engine.PYSHACL)


def test_a_store_made_before_it_kept_literals_as_written_is_refused(
        runner: CliRunner, tmp_path: Path, planted: tuple[Path, Counter[tuple[Any, ...]]]) -> None:
    old = tmp_path / "old.store"
    store = Store.on_disk(old)  # what kgtool store wrote before: the data only
    store.load(planted[0])
    store.set_fingerprint({"files": [str(planted[0])]})
    del store
    result = invoke(runner, "--store", str(old))
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    assert "original form of literals" in result.stderr and "kgtool store" in result.stderr, result.stderr
    missing = invoke(runner, "--store", str(tmp_path / "nothing"))
    assert missing.exit_code == 3 and "no kgtool store here" in missing.stderr


@pytest.mark.parametrize("args", [["data.ttl", "--store", "s"], ["--store", "s", "--endpoint", "http://127.0.0.1:9/"],
                                  ["--store", "s", "--inference", "rdfs"]])
def test_store_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    assert invoke(runner, *args).exit_code == 2


# ------------------------------------------------------------------------------------------------ on a real server

@pytest.fixture(scope="module")
def remote(virtuoso: VirtuosoServer, built: BuildResult) -> Iterator[str]:
    """The shipped graph and a synthetic graph with planted violations, each in a named graph."""
    server = connect(virtuoso.endpoint, timeout=120)
    load(server, built.graph, SHIPPED)
    load(server, synth(5_000, 11).graph, SYNTHETIC)
    yield virtuoso.endpoint


def on_server(remote: str, graph: str) -> Endpoint:
    return connect(remote, timeout=120, default_graph=graph)


CONTROL = "https://w3id.org/kgtool/shapes#ControlShape"


def test_virtuoso_is_told_apart_from_other_servers(remote: str) -> None:
    traits = probe(connect(remote))
    assert traits.virtuoso and not traits.retypes and traits.software.startswith("Virtuoso/")


def test_the_shipped_graph_validated_on_virtuoso_gives_pyshacls_results(
        remote: str, built: BuildResult, project: Project, runner: CliRunner, fast_build: None) -> None:
    shapes = load_shapes([project.shapes])  # the project's own, the control-cycle constraint included
    done = validate_with(on_server(remote, SHIPPED), shapes)
    theirs = validate(built.graph, shapes)
    assert done.engine is Engine.SPARQL and done.report.results and not done.notes
    assert validation_json(done.report) == validation_json(theirs)
    served = invoke(runner, "--endpoint", remote, "--graph", SHIPPED, "--format", "json")
    local = invoke(runner, "--engine", "pyshacl", "--format", "json")
    assert served.exit_code == local.exit_code == 0, served.stderr + local.stderr
    assert served.stdout == local.stdout
    assert served.stderr.splitlines() == [f"validated the graph at {remote} with the SPARQL engine, on the server"]


def test_planted_violations_validated_on_virtuoso_give_pyshacls_results(remote: str, project: Project,
                                                                        runner: CliRunner) -> None:
    shapes = load_shapes([project.shapes])
    graph = synth(5_000, 11).graph
    ours, theirs = validate_with(on_server(remote, SYNTHETIC), shapes).report, validate(graph, shapes)
    assert ours.results and keys(ours) == keys(theirs)
    cycles = [r.focus_node for r in ours.results if str(r.source_shape) == CONTROL]
    assert len(cycles) == 2, "synth plants two firms that control each other"
    # Virtuoso writes decimals in their shortest form ("140.0" comes back as 140): values are the server's
    assert Counter((r.focus_node, r.source_shape, r.source_constraint_component) for r in ours.results) == Counter(
        (r.focus_node, r.source_shape, r.source_constraint_component) for r in theirs.results)
    result = invoke(runner, "--endpoint", remote, "--graph", SYNTHETIC, "--format", "json")
    assert result.exit_code == 1 and len(json.loads(result.stdout)) == len(theirs.results), result.stderr


def test_a_cycle_constraint_that_is_not_one_path_is_refused_on_virtuoso(remote: str, runner: CliRunner,
                                                                        tmp_path: Path) -> None:
    shapes = tmp_path / "cycle.ttl"
    shapes.write_text("""@prefix sh: <http://www.w3.org/ns/shacl#> .
<urn:S> a sh:NodeShape ; sh:targetClass <https://w3id.org/kgtool/ontology#Company> ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this <urn:p>+ $this . $this <urn:q> ?x }" ] .
""", encoding="utf-8")
    result = invoke(runner, "--endpoint", remote, "--graph", SYNTHETIC, "--shapes", str(shapes))
    assert result.exit_code == 3, result.output + result.stderr
    assert "<urn:S>" in result.stderr and "cycle" in result.stderr and "$this PATH+ $this" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------- on kgtool serve (Oxigraph)

def test_on_a_server_that_keeps_literals_canonical_integers_are_checked_by_value(project: Project,
                                                                                  runner: CliRunner) -> None:
    """`kgtool serve` over an Oxigraph store filled from rdflib: "05"^^xsd:nonNegativeInteger is kept as
    "5"^^xsd:integer. Derived integer datatypes are checked on the value, so the results are pySHACL's but
    for a value written with the wrong integer type (synth plants one: an xsd:integer position), and the
    user is told. Cycles are found by the server's own transitive paths."""
    result = synth(5_000, 11)
    shapes = load_shapes([project.shapes])
    with running_server(make_app(Store.from_graph(result.graph))) as base:
        url = base + "/sparql"
        traits = probe(connect(url))
        done = validate_with(connect(url, timeout=120), shapes)
        cli = invoke(runner, "--endpoint", url, "--format", "json")
    assert not traits.virtuoso and traits.retypes and not traits.verbatim
    theirs = validate(result.graph, shapes)
    unseen = Counter(v.key() for v in result.manifest.violations if v.kind == "position-not-non-negative-integer")
    assert unseen and keys(done.report) == keys(theirs) - unseen
    assert [r for r in done.report.results if str(r.source_shape) == CONTROL]
    assert len(done.notes) == 1 and "xsd:nonNegativeInteger" in done.notes[0] and "not reported" in done.notes[0]
    assert cli.exit_code == 1, cli.stderr
    assert cli.stderr.splitlines()[-1].startswith("warning: the server (uvicorn) keeps typed literals only in "
                                                  "canonical form")


def test_a_served_store_that_keeps_literals_as_written_gives_pyshacls_results(
        stored: Path, planted: tuple[Path, Counter[tuple[Any, ...]]], runner: CliRunner) -> None:
    with running_server(make_app(Store.read_only(stored))) as base:
        traits = probe(connect(base + "/sparql"))
        served = invoke(runner, "--endpoint", base + "/sparql", "--format", "json")
    local = invoke(runner, str(planted[0]), "--engine", "pyshacl", "--format", "json")
    assert traits.retypes and traits.verbatim
    assert served.exit_code == local.exit_code == 1, served.stderr
    assert served.stdout == local.stdout and "warning" not in served.stderr
