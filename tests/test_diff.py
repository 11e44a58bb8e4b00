"""Semantic diffs: grouped by subject, changed values recognised, blind to blank-node labels and order;
two releases one fact apart differ by exactly that fact."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal

from kgtool.build import BuildResult, build
from kgtool.config import Project
from kgtool.diff import diff_graphs, diff_paths, load_graph_any
from kgtool.errors import BadInputError
from kgtool.namespaces import KG, KGCLAIM, KGR, OWL, RDF, RDFS, XSD
from kgtool.rdfio import RdfFormat, serialise, serialise_nquads
from kgtool.release import release
from kgtool.store import new_graph

from .conftest import ROOT


def _graph(*triples: tuple) -> Graph:
    graph = new_graph()
    for triple in triples:
        graph.add(triple)
    return graph


def _restriction(prop: object, cls: object) -> tuple[tuple, ...]:
    node = BNode()
    return ((KG.Deposit, RDFS.subClassOf, node), (node, RDF.type, OWL.Restriction), (node, OWL.onProperty, prop),
            (node, OWL.someValuesFrom, cls))


BASE_TRIPLES = (
    (KGR.rosatom, RDFS.label, Literal("Rosatom", lang="en")),
    (KGR.rosatom, RDF.type, KG.StateCorporation),
    (KGCLAIM["001-x"], KG.value, Literal("28700000.0", datatype=XSD.decimal)),
    (KGR.intergeo, RDFS.label, Literal("Intergeo", lang="en")),
)


def test_isomorphic_graphs_are_equal_whatever_the_blank_node_labels_and_order() -> None:
    old = _graph(*BASE_TRIPLES, *_restriction(KG.locatedIn, KG.Place))
    new = _graph(*reversed((*BASE_TRIPLES, *_restriction(KG.locatedIn, KG.Place))))
    diff = diff_graphs(old, new)
    assert diff.equal
    assert diff.subjects == ()
    assert "no differences" in diff.text()
    assert json.loads(diff.json())["equal"] is True


def test_changes_are_grouped_by_subject_with_labels() -> None:
    old = _graph(*BASE_TRIPLES)
    new = _graph(*BASE_TRIPLES[:2], (KGCLAIM["001-x"], KG.value, Literal("28500000.0", datatype=XSD.decimal)),
                 (KGR.rosatom, RDFS.comment, Literal("state corporation")),
                 (KGR.rostec, RDFS.label, Literal("Rostec", lang="en")))
    diff = diff_graphs(old, new)
    assert not diff.equal
    status = {s.subject: s.status for s in diff.subjects}
    assert status == {KGCLAIM["001-x"]: "changed", KGR.rosatom: "changed", KGR.rostec: "added", KGR.intergeo: "removed"}
    (subject, change), = diff.changed_values
    assert subject == KGCLAIM["001-x"] and change.predicate == KG.value
    assert change.removed == (Literal("28700000.0", datatype=XSD.decimal),)
    assert change.added == (Literal("28500000.0", datatype=XSD.decimal),)
    labels = {s.subject: s.label for s in diff.subjects}
    assert labels[KGR.rosatom] == "Rosatom" and labels[KGR.intergeo] == "Intergeo"
    text = diff.text()
    assert '~ kg:value: "28700000.0"^^xsd:decimal -> "28500000.0"^^xsd:decimal' in text
    assert "added kgr:rostec" in text and "removed kgr:intergeo" in text
    assert '+ rdfs:comment "state corporation"' in text
    machine = json.loads(diff.json())
    assert machine["added_triples"] == 3 and machine["removed_triples"] == 2
    claim = next(s for s in machine["subjects"] if s["subject"]["value"] == str(KGCLAIM["001-x"]))
    assert claim["changes"] == [{"predicate": str(KG.value), "kind": "changed",
                                 "removed": [{"type": "literal", "value": "28700000.0", "datatype": str(XSD.decimal)}],
                                 "added": [{"type": "literal", "value": "28500000.0", "datatype": str(XSD.decimal)}]}]


def test_a_changed_blank_node_structure_is_reported() -> None:
    old = _graph(*BASE_TRIPLES, *_restriction(KG.locatedIn, KG.Place))
    new = _graph(*BASE_TRIPLES, *_restriction(KG.locatedIn, KG.State))
    diff = diff_graphs(old, new)
    assert not diff.equal
    assert any(o == KG.State for _, _, o in diff.added)
    assert any(o == KG.Place for _, _, o in diff.removed)


def test_long_literals_are_shortened_in_text_but_whole_in_json() -> None:
    long = "x" * 1000
    diff = diff_graphs(_graph(), _graph((KGR.doc, KG.content, Literal(long))))
    assert "(1000 characters)" in diff.text()
    assert json.loads(diff.json())["subjects"][0]["changes"][0]["added"][0]["value"] == long


def test_load_graph_any_reads_files_quads_and_release_folders(tmp_path: Path) -> None:
    graph = _graph(*BASE_TRIPLES)
    (tmp_path / "g.ttl").write_bytes(serialise(graph, RdfFormat.TURTLE))
    (tmp_path / "g.nq").write_bytes(serialise_nquads({KG.g1: _graph(*BASE_TRIPLES[:2]), KG.g2: _graph(*BASE_TRIPLES[2:])}))
    assert diff_paths(tmp_path / "g.ttl", tmp_path / "g.nq").equal
    folder = tmp_path / "1.0.0"
    folder.mkdir()
    with pytest.raises(BadInputError, match="not a release folder"):
        load_graph_any(folder)
    (folder / "kgtool.nt").write_bytes(serialise(graph, RdfFormat.NTRIPLES))
    assert len(load_graph_any(folder)) == len(graph)
    with pytest.raises(BadInputError, match="no such file"):
        load_graph_any(tmp_path / "missing.ttl")


def test_two_releases_one_fact_apart_differ_by_exactly_that_fact(built: BuildResult, project_copy: Project,
                                                                 tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    first = release(Project(ROOT), "1.0.0", dist=dist, built=built)
    facts = project_copy.facts / "002.yaml"
    text = facts.read_text(encoding="utf-8")
    assert text.count("value: 10780000000\n") == 1
    facts.write_text(text.replace("value: 10780000000\n", "value: 10790000000\n"), encoding="utf-8")
    second = release(project_copy, "1.0.1", dist=dist, built=build(project_copy))
    claim = KGCLAIM["002-rem-market-2030-vmr"]
    old = Literal("10780000000.0", datatype=XSD.decimal)
    new = Literal("10790000000.0", datatype=XSD.decimal)
    assert built.graph.value(claim, KG.value) == old

    assert second.previous == "1.0.0" and second.diff is not None
    for diff in (second.diff, diff_paths(first.folder, second.folder)):
        assert diff.removed == {(claim, KG.value, old)}
        assert diff.added == {(claim, KG.value, new)}
        (subject, change), = diff.changed_values
        assert subject == claim and change.predicate == KG.value
        assert [s.subject for s in diff.subjects] == [claim]
    assert Decimal("10790000000") == new.toPython()
    changelog = (second.folder / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## 1.0.1" in changelog and "Compared with 1.0.0" in changelog
    assert 'kgclaim:002-rem-market-2030-vmr' in changelog
    assert '~ kg:value: "10780000000.0"^^xsd:decimal -> "10790000000.0"^^xsd:decimal' in changelog
    assert changelog.index("## 1.0.1") < changelog.index("## 1.0.0") and "First release" in changelog
