"""`kgtool validate --engine auto|pyshacl|sparql` and `--endpoint`: every engine, the same results.

The engine switch (kgtool.validation) takes pySHACL for small graphs and the SPARQL engine for big ones;
both write the same `--format json`, on the shipped graph and on synthetic graphs with planted
violations. Data files go straight into Oxigraph for the SPARQL engine, never through rdflib. On a real
Virtuoso (the `virtuoso` fixture) the same compiled checks run where the graph lives and give pySHACL's
results, except a constraint that looks for cycles, which Virtuoso cannot evaluate: it is refused.
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
from kgtool.endpoint import Endpoint, connect, load
from kgtool.rdfio import load_graph
from kgtool.render import validation_json
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


def test_an_unreachable_endpoint_exits_4(runner: CliRunner, no_network: None, project: Project) -> None:
    shapes = [a for f in without_cycles(project) for a in ("--shapes", str(f))]
    result = invoke(runner, "--endpoint", "http://127.0.0.1:9/sparql", "--graph", "urn:g", "--timeout", "5", *shapes)
    assert result.exit_code == 4 and "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ on a real server

@pytest.fixture(scope="module")
def remote(virtuoso: VirtuosoServer, built: BuildResult) -> Iterator[str]:
    """The shipped graph and a synthetic graph with planted violations, each in a named graph."""
    server = connect(virtuoso.endpoint, timeout=120)
    load(server, built.graph, SHIPPED)
    load(server, synth(5_000, 11).graph, SYNTHETIC)
    yield virtuoso.endpoint


def without_cycles(project: Project) -> list[Path]:
    """The project's shapes without rules.ttl, whose control-cycle constraint Virtuoso cannot evaluate."""
    files = sorted(project.shapes.glob("*.ttl"))
    assert any(f.name == "rules.ttl" for f in files)
    return [f for f in files if f.name != "rules.ttl"]


def on_server(remote: str, graph: str) -> Endpoint:
    return connect(remote, timeout=120, default_graph=graph)


def test_the_shipped_graph_validated_on_virtuoso_gives_pyshacls_results(
        remote: str, built: BuildResult, project: Project, runner: CliRunner, fast_build: None) -> None:
    shapes = load_shapes(without_cycles(project))
    done = validate_with(on_server(remote, SHIPPED), shapes)
    theirs = validate(built.graph, shapes)
    assert done.engine is Engine.SPARQL and done.report.results
    assert validation_json(done.report) == validation_json(theirs)
    arguments = [a for f in without_cycles(project) for a in ("--shapes", str(f))]
    served = invoke(runner, "--endpoint", remote, "--graph", SHIPPED, "--format", "json", *arguments)
    local = invoke(runner, "--engine", "pyshacl", "--format", "json", *arguments)
    assert served.exit_code == local.exit_code == 0, served.stderr + local.stderr
    assert served.stdout == local.stdout


def test_planted_violations_validated_on_virtuoso_give_pyshacls_results(remote: str, project: Project) -> None:
    shapes = load_shapes(without_cycles(project))
    graph = synth(5_000, 11).graph
    ours, theirs = validate_with(on_server(remote, SYNTHETIC), shapes).report, validate(graph, shapes)
    assert ours.results and keys(ours) == keys(theirs)
    # Virtuoso writes decimals in their shortest form ("140.0" comes back as 140): values are the server's
    assert Counter((r.focus_node, r.source_shape) for r in ours.results) == Counter(
        (r.focus_node, r.source_shape) for r in theirs.results)


def test_a_cycle_constraint_is_refused_on_the_server(remote: str, runner: CliRunner) -> None:
    result = invoke(runner, "--endpoint", remote, "--graph", SYNTHETIC)
    assert result.exit_code == 3, result.output + result.stderr
    assert "kgsh:ControlShape" in result.stderr and "cycle" in result.stderr and "Traceback" not in result.stderr
