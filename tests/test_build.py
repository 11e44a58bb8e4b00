"""The built graph: every fact anchored in its source, conflicts derived, outputs deterministic."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from typing import Any

from rdflib import Graph, Literal

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.namespaces import DCTERMS, KG, KGCLAIM, KGDOC, KGR, OA, PROV, RDF, XSD
from kgtool.store import query_graph

from .conftest import ROOT


def _claims(built: BuildResult) -> set:
    g = built.graph
    return set(g.subjects(RDF.type, KG.QuantitativeClaim)) | set(g.subjects(RDF.type, KG.RelationClaim))


def test_every_claim_has_a_source_and_verifiable_evidence(built: BuildResult, project: Project) -> None:
    g = built.graph
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in project.sources.glob("*.txt")}
    claims = _claims(built)
    assert len(claims) > 200
    background = {c for c in claims if (c, DCTERMS.source, None) in g}
    assert background, "background claims name their reference work"
    for claim in background:
        assert (claim, PROV.wasDerivedFrom, None) not in g and (claim, KG.hasEvidence, None) not in g
    for claim in claims - background:
        documents = set(g.objects(claim, PROV.wasDerivedFrom))
        evidence = set(g.objects(claim, KG.hasEvidence))
        assert len(documents) == 1 and len(evidence) == 1, claim
        ev = evidence.pop()
        assert g.value(ev, OA.hasSource) == documents.pop()
        doc_id = str(g.value(g.value(ev, OA.hasSource), KG.documentId))
        selectors = list(g.objects(ev, OA.hasSelector))
        exact = next(g.value(s, OA.exact) for s in selectors if g.value(s, OA.exact) is not None)
        start = next(g.value(s, OA.start) for s in selectors if g.value(s, OA.start) is not None).toPython()
        end = next(g.value(s, OA.end) for s in selectors if g.value(s, OA.end) is not None).toPython()
        assert texts[doc_id][start:end] == str(exact), claim


def test_all_seventeen_rare_earth_elements(built: BuildResult) -> None:
    g = built.graph
    rees = set(g.subjects(RDF.type, KG.RareEarthElement))
    numbers = {g.value(e, KG.atomicNumber).toPython() for e in rees}
    assert numbers == {21, 39, *range(57, 72)}
    lanthanides = set(g.subjects(RDF.type, KG.Lanthanide))
    assert {g.value(e, KG.atomicNumber).toPython() for e in lanthanides} == set(range(57, 72))
    assert g.value(KGR.neodymium, KG.symbol) == Literal("Nd")
    for element in rees:
        assert "IUPAC" in str(g.value(element, DCTERMS.source))
    for other in ("niobium", "molybdenum", "rhenium", "lead", "zinc", "aluminium"):
        assert (KGR[other], RDF.type, KG.ChemicalElement) in g


def run_query(graph: Graph, sparql: str) -> tuple[tuple[Any, ...], ...]:
    """The rows of a SELECT on the embedded store."""
    return query_graph(graph, sparql).rows


def _conflicting_values(built: BuildResult) -> set[frozenset]:
    rows = run_query(built.graph, """
        SELECT ?a ?b WHERE { ?a kg:conflictsWith ?b . FILTER (STR(?a) < STR(?b)) }""")
    return {frozenset((a, b)) for a, b in rows}


def test_sources_that_disagree_are_both_kept_and_marked_as_conflicting(built: BuildResult) -> None:
    g = built.graph
    rows = run_query(g, """
        SELECT ?claim ?value ?doc WHERE {
          ?claim kg:claimSubject kgr:russia ; kg:measure kgv:reserves ; kg:commodity kgr:rare-earth-metals ;
                 kg:value ?value ; prov:wasDerivedFrom ?doc .
        }""")
    reserves = {(row[1].toPython(), row[2]) for row in rows}
    assert (Decimal("28700000"), KGDOC["001"]) in reserves
    assert (Decimal("28500000"), KGDOC["003"]) in reserves
    pairs = _conflicting_values(built)
    by_doc = {frozenset(str(g.value(c, PROV.wasDerivedFrom))[-3:] for c in pair): pair for pair in pairs}
    assert frozenset({"001", "003"}) in by_doc
    months = set()
    for pair in pairs:
        values = {g.value(c, KG.claimValue) for c in pair}
        if None not in values:
            months |= {str(v) for v in values}
    assert {"--04", "--05"} <= months, "April (001) vs May (003) for the US-Ukraine agreement"


def test_different_agents_are_a_difference_not_a_conflict(built: BuildResult) -> None:
    g = built.graph
    rosnedra = [c for c in g.subjects(KG.attributedTo, KGR.rosnedra) if (c, KG.measure, None) in g]
    assert rosnedra
    for claim in rosnedra:
        for other in g.objects(claim, KG.conflictsWith):
            assert g.value(other, KG.attributedTo) in (None, KGR.rosnedra)


def test_control_over_time(built: BuildResult) -> None:
    g = built.graph
    assert (KGR["solikamsk-magnesium-plant"], KG.controlledBy, KGR.rosatom) in g
    assert (KGR["solikamsk-magnesium-plant"], KG.controlledBy, KGR["smp-previous-owners"]) not in g
    ended = run_query(g, """
        SELECT ?end WHERE { ?c kg:claimSubject kgr:solikamsk-magnesium-plant ; kg:claimProperty kg:controlledBy ;
                                kg:claimObject kgr:smp-previous-owners ; kg:endTime ?end }""")
    assert {str(r[0]) for r in ended} == {"2022"}
    ak = run_query(g, """
        SELECT ?holder ?start ?end WHERE { ?c kg:claimSubject ?holder ; kg:claimProperty kg:holdsLicenceFor ;
            kg:claimObject kgr:ak-sugsky . OPTIONAL { ?c kg:startTime ?start } OPTIONAL { ?c kg:endTime ?end } }""")
    history = {(r[0], str(r[1]) if r[1] else None, str(r[2]) if r[2] else None) for r in ak}
    assert (KGR.intergeo, None, "2024") in history
    assert (KGR["promising-mining-projects"], "2024", None) in history


def test_document_metadata_keeps_unknown_unknown(built: BuildResult) -> None:
    g = built.graph
    assert g.value(KGDOC["002"], DCTERMS.date) == Literal("2025-02-26", datatype=XSD.date)
    assert g.value(KGDOC["004"], DCTERMS.date) == Literal("2025-11-04", datatype=XSD.date)
    for undated in ("000", "001", "003"):
        assert g.value(KGDOC[undated], DCTERMS.date) is None
    assert g.value(KGDOC["002"], DCTERMS.publisher) == KGR.kommersant
    assert g.value(KGDOC["004"], DCTERMS.creator) == KGR["ihor-telezhnikov"]
    assert (KGDOC["000"], KG.citesSource, KGR.tass) in g
    assert (KGDOC["004"], KG.citesSource, KGR.politico) in g


def test_claim_iris_are_stable_and_readable(built: BuildResult) -> None:
    for claim in _claims(built):
        assert str(claim).startswith(str(KGCLAIM))
        local = str(claim)[len(str(KGCLAIM)):]
        assert local[:3].isdigit() or local.startswith("background-"), local


def _build_in_fresh_process(output: Path, seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed, "KGTOOL_PROJECT": str(ROOT)}
    code = "from kgtool.cli import main; main()"
    subprocess.run([sys.executable, "-c", code, "build", "--output", str(output)], check=True, env=env,
                   capture_output=True)
    return output.read_bytes()


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = _build_in_fresh_process(tmp_path / "a.ttl", "1")
    second = _build_in_fresh_process(tmp_path / "b.ttl", "4242")
    assert first == second
