"""Synthetic graphs (kgtool.synth): size, determinism, the project's conventions, and exactly the planted results.

A synthetic graph is made to conform to shapes/ except for a manifest of planted violations; pySHACL must
report exactly those (focus node, path, constraint component, severity), and kg:conflictsWith must be what
the build's own rule derives.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.namespaces import KG, KGR, OA, PREFIXES, RDF, SH
from kgtool.synth import MIN_TRIPLES, SynthResult, synth, synth_ntriples, write_synth
from kgtool.validate import ValidationReport, load_shapes, validate

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"missing-unit", "end-before-start", "control-cycle", "bad-symbol-pattern", "evidence-quote-mismatch",
         "value-not-in-list", "percentage-over-100", "as-of-after-source", "position-not-non-negative-integer",
         "label-without-language", "firm-without-jurisdiction"}
RARE_EARTHS = {"scandium", "yttrium", "lanthanum", "cerium", "praseodymium", "neodymium", "promethium", "samarium",
               "europium", "gadolinium", "terbium", "dysprosium", "holmium", "erbium", "thulium", "ytterbium",
               "lutetium"}


@pytest.fixture(scope="module")
def small() -> SynthResult:
    return synth(5_000, 7)


@pytest.fixture(scope="module")
def small_report(small: SynthResult, project: Project) -> ValidationReport:
    return validate(small.graph, load_shapes([project.shapes]))


def keys(report: ValidationReport) -> Counter[tuple[object, ...]]:
    return Counter((r.focus_node, r.result_path, r.source_constraint_component, r.severity.iri) for r in report.results)


@pytest.mark.parametrize("size", [MIN_TRIPLES, 5_000, 30_000])
def test_size_is_within_five_percent(size: int) -> None:
    result = synth(size, 3)
    assert len(result.graph) == result.manifest.triples, "no triple is written twice"
    assert abs(result.manifest.triples - size) <= 0.05 * size, result.manifest.triples


def test_too_small_is_refused() -> None:
    with pytest.raises(BadInputError, match="at least"):
        synth(500, 1)


def test_pyshacl_reports_exactly_the_planted_violations(small: SynthResult, small_report: ValidationReport) -> None:
    planted = Counter(v.key() for v in small.manifest.violations)
    got = keys(small_report)
    assert got == planted, f"unexpected: {got - planted}\nmissing: {planted - got}"
    assert {v.kind for v in small.manifest.violations} == KINDS
    shapes = {(v.focus_node, v.source_shape) for v in small.manifest.violations}
    assert shapes == {(r.focus_node, r.source_shape) for r in small_report.results}
    severities = {v.severity for v in small.manifest.violations}
    assert severities == {SH.Violation, SH.Warning, SH.Info}


def test_planted_values_are_the_reported_values(small: SynthResult, small_report: ValidationReport) -> None:
    reported = {(r.focus_node, r.source_constraint_component): r.value for r in small_report.results}
    for violation in small.manifest.violations:
        if violation.value is not None:
            assert reported[(violation.focus_node, violation.source_constraint_component)] == violation.value, \
                violation.kind


def test_another_seed_and_size_conform_too(project: Project) -> None:
    result = synth(9_000, 2024)
    report = validate(result.graph, load_shapes([project.shapes]))
    assert keys(report) == Counter(v.key() for v in result.manifest.violations)


def test_deterministic_across_processes(tmp_path: Path) -> None:
    """Byte-identical N-Triples (and manifest) from two processes with different hash seeds."""
    script = ("import sys; from pathlib import Path; from kgtool.synth import write_synth; "
              "write_synth(Path(sys.argv[1]), 4000, 11, manifest_path=Path(sys.argv[2]))")
    outputs = []
    for seed in ("1", "4242"):
        out, manifest = tmp_path / f"synth-{seed}.nt", tmp_path / f"synth-{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed, "KGTOOL_PROJECT": str(ROOT)}
        subprocess.run([sys.executable, "-c", script, str(out), str(manifest)], check=True, env=env, cwd=ROOT)
        outputs.append((hashlib.sha256(out.read_bytes()).hexdigest(), manifest.read_text(encoding="utf-8")))
    assert outputs[0] == outputs[1]
    text, _ = synth_ntriples(4000, 11)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == outputs[0][0], "write_synth and synth agree"


def test_write_synth_streams_the_same_graph(tmp_path: Path, small: SynthResult) -> None:
    path = tmp_path / "synth.nt"
    manifest = write_synth(path, 5_000, 7)
    assert manifest == small.manifest
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(set(lines)) == manifest.triples
    graph = Graph().parse(path, format="nt")
    assert isomorphic(graph, small.graph)
    assert json.loads(json.dumps(manifest.to_json()))["triples"] == manifest.triples


def test_other_seeds_give_other_graphs(small: SynthResult) -> None:
    other = synth(5_000, 8)
    assert set(other.graph) != set(small.graph)


def test_conflicts_are_what_the_build_rule_derives() -> None:
    import pyoxigraph as ox

    text, manifest = synth_ntriples(30_000, 5)
    store = ox.Store()
    store.load(text.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    have = {(q.subject.value, q.object.value) for q in store.quads_for_pattern(None, ox.NamedNode(str(KG.conflictsWith)), None)}
    rule = resources.files("kgtool").joinpath("rules").joinpath("conflicts.rq").read_text(encoding="utf-8")
    derived = {(t.subject.value, t.object.value) for t in store.query(rule, prefixes=PREFIXES)}
    assert have == derived
    assert manifest.conflicting_pairs == len(have) // 2 > 0


def test_the_graph_follows_the_project_conventions(small: SynthResult) -> None:
    graph = small.graph
    elements = {str(e)[len(str(KGR)):] for e in graph.subjects(RDF.type, KG.RareEarthElement)}
    assert elements == RARE_EARTHS, "the 17 rare earths of data/elements.yaml"
    documents = set(graph.subjects(RDF.type, KG.SourceDocument))
    assert documents and all(graph.value(d, KG.content) is not None for d in documents)
    # control changes hands: ended claims, superseded by the claims that follow them
    ended = set(graph.subjects(KG.endTime, None))
    assert ended and any(graph.value(c, KG.supersededBy) is not None for c in ended)
    assert any(True for _ in graph.subject_objects(URIRef(PREFIXES["org"] + "subOrganizationOf")))
    # every quote is the text of its document at its positions, except the planted one
    mismatched = {v.focus_node for v in small.manifest.violations if v.kind == "evidence-quote-mismatch"}
    checked = 0
    for evidence in graph.subjects(RDF.type, KG.Evidence):
        content = str(graph.value(graph.value(evidence, OA.hasSource), KG.content))
        selectors = list(graph.objects(evidence, OA.hasSelector))
        exact = next(str(graph.value(s, OA.exact)) for s in selectors if graph.value(s, OA.exact) is not None)
        position = next(s for s in selectors if graph.value(s, OA.start) is not None)
        start, end = int(graph.value(position, OA.start)), int(graph.value(position, OA.end))  # type: ignore[arg-type]
        assert (content[start:end] == exact) != (evidence in mismatched), evidence
        checked += 1
    assert checked > 50


def test_benchmark_suite_runs_and_writes_both_files(tmp_path: Path) -> None:
    """bench/run.py at a tiny size: structure only, never speed (the suite is run on demand)."""
    output = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "2k", "--repeat", "1",
         "--no-rdflib-baseline-above", "1k", "--queries", "source-documents", "--skip", "build,cold",
         "--output-dir", str(output), "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "KGTOOL_PROJECT": str(ROOT)}, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((output / "latest.json").read_text(encoding="utf-8"))
    assert {"cpu", "cores", "ram_gb", "python", "versions"} <= set(result["machine"])
    assert {"rdflib", "pyoxigraph", "pyshacl"} <= set(result["machine"]["versions"])
    assert result["datasets"]["2k"]["planted_results"] > 0
    measured = {(m["operation"], m["engine"]): m for m in result["measurements"]}
    for operation in ("load N-Triples", "load Turtle", "validate (after load)", "query source-documents",
                      "export Turtle", "export N-Triples"):
        fast = [m for (op, engine), m in measured.items() if op == operation and engine in ("kgtool", "SPARQL")]
        assert fast and all(m["status"] == "ok" and m["median"] is not None and m["rss_mb"] > 0 for m in fast)
        slow = [m for (op, engine), m in measured.items() if op == operation and engine in ("rdflib", "pySHACL")]
        assert slow and all(m["status"] == "skipped" for m in slow), "no baseline above 1k"
    validation = measured[("validate (after load)", "SPARQL")]
    assert validation["extra"]["results"] == result["datasets"]["2k"]["planted_results"]
    assert validation["extra"]["as_planted"] is True, "the engine reports exactly the planted results"
    text = (output / "latest.md").read_text(encoding="utf-8")
    assert "| operation | engine | median s |" in text and "## 2k triples" in text
