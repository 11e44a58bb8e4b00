"""`kgtool validate`, `lint` and `check` from the command line: formats, exit codes, malformed input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph

from kgtool.cli import main
from kgtool.config import Project
from kgtool.namespaces import SH
from kgtool.synth import write_synth

from .conftest import ROOT

BROKEN_CLAIM = """@prefix kg: <https://w3id.org/kgtool/ontology#> .
@prefix kgv: <https://w3id.org/kgtool/vocab/> .
@prefix kgr: <https://w3id.org/kgtool/resource/> .
@prefix kgclaim: <https://w3id.org/kgtool/claim/> .
kgclaim:999-broken a kg:QuantitativeClaim ;
    kg:claimSubject kgr:russia ; kg:measure kgv:reserves ; kg:value 1.0 .
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def test_shipped_graph_passes_with_json_results(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--format", "json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)
    assert results, "the shipped graph has infos (gaps such as firms with no known jurisdiction)"
    assert {r["resultSeverity"] for r in results} == {str(SH.Info)}
    assert set(results[0]) == {"focusNode", "resultPath", "value", "sourceShape", "sourceConstraintComponent",
                               "resultSeverity", "resultMessage"}


def test_violations_exit_1_with_grouped_text_report(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "broken.ttl"
    data.write_text(BROKEN_CLAIM, encoding="utf-8")
    result = runner.invoke(main, ["validate", str(data)])
    assert result.exit_code == 1
    out = result.stdout
    assert "Violation kgsh:" in out
    assert "kgclaim:999-broken" in out and "kg:unit" in out
    assert out.strip().splitlines()[-1].startswith("fails:")


def test_junit_report_lists_failures(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "broken.ttl"
    data.write_text(BROKEN_CLAIM, encoding="utf-8")
    report = tmp_path / "report.xml"
    result = runner.invoke(main, ["validate", str(data), "--format", "junit", "--output", str(report)])
    assert result.exit_code == 1
    suite = ET.parse(report).getroot()
    assert suite.tag == "testsuite" and int(suite.get("failures", "0")) >= 2
    assert any("kg:unit" in (f.get("message") or "") for f in suite.iter("failure"))


def test_turtle_report_is_a_shacl_report_graph(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "broken.ttl"
    data.write_text(BROKEN_CLAIM, encoding="utf-8")
    result = runner.invoke(main, ["validate", str(data), "--format", "turtle"])
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert (None, SH.conforms, None) in graph
    assert len(list(graph.subjects(SH.focusNode, None))) >= 2


def test_max_violations_limits_the_text(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "broken.ttl"
    data.write_text(BROKEN_CLAIM, encoding="utf-8")
    result = runner.invoke(main, ["validate", str(data), "--max-violations", "1"])
    assert "more results not shown" in result.stdout


def test_warnings_fail_unless_allowed(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "warn.ttl"
    data.write_text("""@prefix kg: <https://w3id.org/kgtool/ontology#> .
@prefix kgr: <https://w3id.org/kgtool/resource/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
kgr:somebody a kg:Person ; rdfs:label "Somebody" ; skos:prefLabel "Somebody"@en ; dcterms:source "a test" .
""", encoding="utf-8")
    strict = runner.invoke(main, ["validate", str(data)])
    relaxed = runner.invoke(main, ["validate", str(data), "--allow-warnings"])
    assert "Warning" in strict.stdout, strict.stdout
    assert strict.exit_code == 1
    assert relaxed.exit_code == 0


@pytest.mark.parametrize("content, expected", [
    ("@prefix kg: <https://w3id.org/kgtool/ontology#> .\nkg:a kg:b kg:c ;\n  kg:d \"unclosed .\n", "line"),
    (b"\xff\xfe not utf-8\n", "not valid UTF-8"),
])
def test_malformed_data_is_bad_input_with_file_and_line(runner: CliRunner, tmp_path: Path,
                                                        content: str | bytes, expected: str) -> None:
    data = tmp_path / "bad.ttl"
    data.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    result = runner.invoke(main, ["validate", str(data)])
    assert result.exit_code == 3
    assert "bad.ttl" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_exit_2_or_3_never_a_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.ttl")])
    assert result.exit_code == 3
    assert "nope.ttl" in result.stderr and "Traceback" not in result.stderr
    result = runner.invoke(main, ["validate", "--shapes", str(tmp_path / "none.ttl")])
    assert result.exit_code == 3 and "shapes file not found" in result.stderr


def test_shapes_that_are_not_shacl_are_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    not_shapes = tmp_path / "shapes.ttl"
    not_shapes.write_text("<urn:a> <urn:b> <urn:c> .\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", "--shapes", str(not_shapes)])
    assert result.exit_code == 3
    assert "is this SHACL" in result.stderr


def test_lint_is_clean_and_json_is_machine_readable(runner: CliRunner) -> None:
    result = runner.invoke(main, ["lint", "--format", "json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert all(f["level"] == "INFO" for f in findings)


def test_lint_config_errors_name_the_line(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "lint.yaml"
    config.write_text("checks:\n  - id: no-such-check\n    enabled: true\n    level: WARN\n", encoding="utf-8")
    result = runner.invoke(main, ["lint", "--config", str(config)])
    assert result.exit_code == 3
    assert "lint.yaml:2" in result.stderr


def test_check_runs_every_step_and_passes(runner: CliRunner, require_java: None) -> None:
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    for step in ("build", "coverage", "lint", "reason", "validate"):
        assert any(line.startswith(step) and " ok " in line for line in result.stdout.splitlines()), step
    assert "all checks passed" in result.stdout


def test_check_reports_a_broken_fact(project_copy: Project, monkeypatch: pytest.MonkeyPatch,
                                     require_java: None) -> None:
    facts = project_copy.facts / "002.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(text.replace("subject: tomtorskoye", "subject: no-such-deposit", 1), encoding="utf-8")
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 3
    assert "no-such-deposit" in result.stdout


def test_readme_explains_the_infos() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "no known jurisdiction" in readme


# ---- both engines, byte for byte ------------------------------------------------------------------------

SHAPE_FIXTURES = sorted((ROOT / "tests" / "data" / "shapes").glob("*/*.ttl"))


@pytest.mark.parametrize("path", SHAPE_FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in SHAPE_FIXTURES])
def test_both_engines_write_the_same_json_for_every_shape_fixture(runner: CliRunner, path: Path) -> None:
    """The same bytes from pySHACL and the SPARQL engine: one order of results (every field), the same
    message where a shape gives none, blank shapes under labels that do not change from run to run, and
    language tags as the data writes them."""
    outputs = [runner.invoke(main, ["validate", str(path), "--engine", engine, "--format", "json"])
               for engine in ("pyshacl", "sparql")]
    assert outputs[0].exit_code == outputs[1].exit_code in (0, 1), outputs[0].stderr + outputs[1].stderr
    assert outputs[0].stdout == outputs[1].stdout


BLANK_SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix kg: <https://w3id.org/kgtool/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<urn:test:Labels> a sh:NodeShape ; sh:targetClass kg:Deposit ;
    sh:property [ sh:path rdfs:label ; sh:languageIn ( "ru" ) ] , [ sh:path rdfs:label ; sh:maxLength 3 ] ,
                [ sh:path kg:nothing ; sh:minCount 1 ] .
"""
LABELLED = """@prefix kg: <https://w3id.org/kgtool/ontology#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<urn:test:d1> a kg:Deposit ; rdfs:label "Tomtor"@EN-GB , "Tomtor"@ru , "Томтор"@ru .
"""


def test_blank_shapes_and_default_messages_are_the_same_every_run(runner: CliRunner, tmp_path: Path) -> None:
    """Shapes without sh:message and without names: both engines give the same message for each
    component, and the same label for each blank shape, in every process (the labels come from what the
    shapes say, not from the parser)."""
    shapes, data = tmp_path / "shapes.ttl", tmp_path / "data.ttl"
    shapes.write_text(BLANK_SHAPES, encoding="utf-8")
    data.write_text(LABELLED, encoding="utf-8")
    outputs = {engine: runner.invoke(main, ["validate", str(data), "--shapes", str(shapes), "--engine", engine,
                                            "--format", "json"]).stdout for engine in ("pyshacl", "sparql")}
    assert outputs["pyshacl"] == outputs["sparql"]
    results = json.loads(outputs["sparql"])
    assert {r["resultMessage"] for r in results} >= {'LanguageIn constraint not satisfied by "Tomtor"@EN-GB',
                                                     "MinCount constraint not satisfied"}
    script = ("import sys\nfrom pathlib import Path\nfrom kgtool.validate import load_shapes, validate\n"
              "from kgtool.rdfio import load_graph\nfrom kgtool.render import validation_json\n"
              "print(validation_json(validate(load_graph(Path(sys.argv[1])), load_shapes([Path(sys.argv[2])]))))\n")
    runs = {subprocess.run([sys.executable, "-c", script, str(data), str(shapes)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300).stdout
            for seed in ("1", "2", "3")}  # rdflib's order of blank nodes and of a report's results varies with it
    assert runs == {outputs["pyshacl"]}


def test_both_engines_write_the_same_json_for_a_synthetic_graph(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "synth.nt"
    write_synth(path, 3_000, 8)
    outputs = [runner.invoke(main, ["validate", str(path), "--engine", engine, "--format", "json"])
               for engine in ("pyshacl", "sparql")]
    assert outputs[0].exit_code == outputs[1].exit_code == 1, outputs[0].stderr + outputs[1].stderr
    assert outputs[0].stdout == outputs[1].stdout and json.loads(outputs[0].stdout)


SERVICE_SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix kg: <https://w3id.org/kgtool/ontology#> .
<urn:test:Remote> a sh:NodeShape ; sh:targetClass kg:Deposit ;
    sh:sparql [ sh:select "SELECT $this WHERE { SERVICE <http://127.0.0.1:9/sparql> { $this ?p ?o } }" ] .
"""


def test_a_shape_pyshacl_cannot_run_is_bad_input_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    """pySHACL returns (not raises) a ValidationFailure for a SHACL-SPARQL constraint with SERVICE."""
    shapes = tmp_path / "service.ttl"
    shapes.write_text(SERVICE_SHAPES, encoding="utf-8")
    result = runner.invoke(main, ["validate", "--shapes", str(shapes), "--engine", "pyshacl"])
    assert result.exit_code == 3, (result.exit_code, result.output)
    assert result.stderr.startswith("error: pySHACL could not validate: ") and "SERVICE" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    sparql = runner.invoke(main, ["validate", "--shapes", str(shapes), "--engine", "sparql"])
    assert sparql.exit_code == 3 and "SERVICE" in sparql.stderr


def test_a_shape_with_a_long_list_validates_with_either_engine(tmp_path: Path) -> None:
    """Blank nodes of the shapes get stable labels without recursion: a sh:in of 2,000 values is fine."""
    values = " ".join(f'"v{i}"' for i in range(2000))
    shapes = tmp_path / "long.ttl"
    shapes.write_text("@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
                      f"ex:S a sh:NodeShape ; sh:targetClass ex:A ; sh:property [ sh:path ex:p ; sh:in ( {values} ) ] .\n",
                      encoding="utf-8")
    data = tmp_path / "data.ttl"
    data.write_text('@prefix ex: <http://example.org/> .\nex:a a ex:A ; ex:p "v1999" .\nex:b a ex:A ; ex:p "w" .\n',
                    encoding="utf-8")
    outputs = []
    for engine in ("pyshacl", "sparql"):
        result = CliRunner().invoke(main, ["validate", str(data), "--shapes", str(shapes), "--engine", engine,
                                           "--format", "json"])
        assert result.exit_code == 1, result.output + result.stderr
        found = json.loads(result.stdout)
        assert [r["focusNode"] for r in found] == ["http://example.org/b"]
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]


def test_inference_leaves_rdflib_reading_literals_as_before(tmp_path: Path) -> None:
    """owlrl (pySHACL's --inference) swaps rdflib's literal converters for the whole process; kgtool puts
    them back, so a month and day parsed afterwards is still well-typed."""
    from rdflib import Literal

    from kgtool.namespaces import XSD

    assert not Literal("--12-01", datatype=XSD.gMonthDay).ill_typed
    result = CliRunner().invoke(main, ["validate", "--inference", "rdfs", "--format", "json"])
    assert result.exit_code == 0, result.output + result.stderr
    assert not Literal("--12-01", datatype=XSD.gMonthDay).ill_typed
