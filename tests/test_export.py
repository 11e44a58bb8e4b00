"""Exports: ontology, data and merged artefacts, every serialisation canonical, named graphs per document,
JSON-LD that expands offline, an ontology that passes the OWL 2 DL structural check, stable IRIs."""
from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import pytest
from rdflib import BNode, Dataset, Graph, Literal, URIRef

from kgtool.build import BuildResult, build
from kgtool.config import Project
from kgtool.export import (ONTOLOGY_GRAPH, SHARED_GRAPH, Artefact, artefact_graph, export_bytes, iri_set,
                           named_graphs, owl2_dl_problems, split)
from kgtool.namespaces import BASE, DCTERMS, KG, KGDOC, KGR, OA, ONTOLOGY_IRI, OWL, PREFIXES, PROV, RDF, RDFS, XSD
from kgtool.rdfio import RdfFormat, context_document, jsonld_context, serialise, serialise_nquads
from kgtool.store import new_graph

from .conftest import ROOT

RDFLIB_FORMATS = {RdfFormat.TURTLE: "turtle", RdfFormat.NTRIPLES: "nt", RdfFormat.NQUADS: "nquads",
                  RdfFormat.JSONLD: "json-ld", RdfFormat.RDFXML: "xml"}


@pytest.fixture(scope="module")
def parts(built: BuildResult) -> tuple[Graph, Graph]:
    return split(built)


def _claims(graph: Graph) -> set:
    return set(graph.subjects(RDF.type, KG.QuantitativeClaim)) | set(graph.subjects(RDF.type, KG.RelationClaim))


def test_ontology_and_data_split_the_merged_graph(built: BuildResult, parts: tuple[Graph, Graph]) -> None:
    ontology, data = parts
    assert len(ontology) + len(data) == len(built.graph)
    assert set(ontology) | set(data) == set(built.graph)
    assert set(ontology) == set(built.sources.ontology.graph)
    assert (URIRef(ONTOLOGY_IRI), RDF.type, OWL.Ontology) in ontology
    assert not _claims(ontology) and len(_claims(data)) > 200
    assert not set(data.subjects(RDF.type, OWL.Class)), "no class declaration in the data"
    assert artefact_graph(built, Artefact.MERGED) is built.graph


def test_named_graphs_one_per_document_plus_ontology_and_shared(built: BuildResult) -> None:
    graphs = named_graphs(built)
    documents = {KGDOC[doc_id] for doc_id in built.sources.documents}
    assert set(graphs) == {ONTOLOGY_GRAPH, SHARED_GRAPH} | documents
    assert sum(len(g) for g in graphs.values()) == len(built.graph), "every triple in exactly one graph"
    assert set().union(*(set(g) for g in graphs.values())) == set(built.graph)
    for document in documents:
        graph = graphs[document]
        assert (document, RDF.type, KG.SourceDocument) in graph
        claims = _claims(graph)
        assert claims, document
        assert {graph.value(c, PROV.wasDerivedFrom) for c in claims} == {document}
        for evidence in graph.subjects(RDF.type, KG.Evidence):
            assert graph.value(evidence, OA.hasSource) == document
            for selector in graph.objects(evidence, OA.hasSelector):
                assert (selector, RDF.type, None) in graph, "selectors travel with their evidence"
        assert (None, KG.conflictsWith, None) not in graph, "derived triples are shared"
    for claim in _claims(built.graph):
        source = built.graph.value(claim, PROV.wasDerivedFrom)
        home = graphs[source] if source is not None else graphs[SHARED_GRAPH]
        assert (claim, RDF.type, None) in home, claim
    shared = graphs[SHARED_GRAPH]
    assert (KGR.rosatom, RDF.type, KG.StateCorporation) in shared
    assert (KGR["solikamsk-magnesium-plant"], KG.controlledBy, KGR.rosatom) in shared
    assert (KGDOC["002"], DCTERMS.date, Literal("2025-02-26", datatype=XSD.date)) in shared
    assert len(list(shared.triples((None, KG.conflictsWith, None)))) == \
        len(list(built.graph.triples((None, KG.conflictsWith, None))))
    assert set(graphs[ONTOLOGY_GRAPH]) == set(built.sources.ontology.graph)
    assert set(named_graphs(built, Artefact.ONTOLOGY)) == {ONTOLOGY_GRAPH}
    assert ONTOLOGY_GRAPH not in named_graphs(built, Artefact.DATA)


@pytest.fixture(scope="module")
def exported(built: BuildResult) -> dict[RdfFormat, bytes]:
    return {rdf_format: export_bytes(built, rdf_format) for rdf_format in RdfFormat}


@pytest.mark.parametrize("rdf_format", list(RdfFormat), ids=lambda f: f.value)
def test_merged_export_is_canonical_and_round_trips(built: BuildResult, exported: dict[RdfFormat, bytes],
                                                    rdf_format: RdfFormat) -> None:
    """Same graph -> same bytes, even for the graph parsed back from the export (so it is isomorphic too)."""
    data = exported[rdf_format]
    if rdf_format is RdfFormat.NQUADS:
        dataset = Dataset()
        dataset.parse(data=data, format="nquads")
        graphs = named_graphs(built)
        parsed = {name: dataset.graph(name) for name in graphs}
        assert {name: len(g) for name, g in parsed.items()} == {name: len(g) for name, g in graphs.items()}
        assert serialise_nquads(parsed) == data  # type: ignore[arg-type]
        return
    graph = Graph().parse(data=data, format=RDFLIB_FORMATS[rdf_format])
    assert len(graph) == len(built.graph)
    assert serialise(graph, rdf_format) == data


def test_serialisation_ignores_insertion_order_blank_node_labels_and_bound_prefixes() -> None:
    first, second = new_graph(), Graph()
    second.bind("foo", "https://example.org/foo#")
    a, b = BNode(), BNode()
    triples = [(KG.A, OWL.equivalentClass, a), (a, RDF.type, OWL.Restriction), (a, OWL.onProperty, KG.p),
               (a, OWL.someValuesFrom, KG.B), (KGR.x, RDFS.label, Literal("x", lang="en"))]
    for triple in triples:
        first.add(triple)
    for triple in reversed(triples):
        second.add(tuple(b if term == a else term for term in triple))  # type: ignore[arg-type]
    for rdf_format in RdfFormat:
        assert serialise(first, rdf_format) == serialise(second, rdf_format), rdf_format


def test_data_export_has_no_ontology_triple(built: BuildResult, parts: tuple[Graph, Graph]) -> None:
    parsed = Graph().parse(data=export_bytes(built, RdfFormat.NTRIPLES, Artefact.DATA), format="nt")
    assert set(parsed) == set(parts[1])
    ontology = Graph().parse(data=export_bytes(built, RdfFormat.TURTLE, Artefact.ONTOLOGY), format="turtle")
    assert len(ontology) == len(parts[0])


# --- JSON-LD context ----------------------------------------------------------------------------

def test_shipped_context_is_the_generated_one() -> None:
    shipped = ROOT / "context" / "kgtool.context.jsonld"
    assert shipped.read_bytes() == context_document(), "regenerate it from kgtool.rdfio.context_document()"
    assert json.loads(shipped.read_bytes())["@context"] == PREFIXES


def test_jsonld_embeds_the_context_and_expands_offline(built: BuildResult, exported: dict[RdfFormat, bytes],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fetch(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"JSON-LD processing tried to fetch {args[:1]!r}")

    monkeypatch.setattr(urllib.request, "urlopen", no_fetch)  # besides the socket guard of conftest
    data = exported[RdfFormat.JSONLD]
    document = json.loads(data)
    assert document["@context"] == jsonld_context(), "the context is embedded, not referenced by URL"
    assert any(node.get("@id") == "kgr:rosatom" for node in document["@graph"]), "IRIs are compacted by it"
    parsed = Graph().parse(data=data, format="json-ld")
    assert len(parsed) == len(built.graph)
    assert (KGR.rosatom, RDF.type, KG.StateCorporation) in parsed


# --- OWL 2 DL structural check ------------------------------------------------------------------

def test_ontology_artefact_passes_the_owl2_dl_structural_check(parts: tuple[Graph, Graph]) -> None:
    assert owl2_dl_problems(parts[0]) == []


def test_merged_graph_is_not_dl_only_because_of_date_literals(built: BuildResult) -> None:
    problems = owl2_dl_problems(built.graph)
    assert problems, "xsd:date and friends are outside the OWL 2 datatype map"
    assert all("not in the OWL 2 datatype map" in p and "has values of datatype" in p for p in problems), problems


def _with(graph: Graph, turtle: str) -> Graph:
    broken = new_graph()
    broken += graph
    prefixes = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items())
    broken.parse(data=prefixes + turtle, format="turtle")
    return broken


@pytest.mark.parametrize(("turtle", "expected"), [
    ("kg:Deposit a owl:ObjectProperty .", "kg:Deposit is punned: used as class and property"),
    ("kgr:x a kg:Agent . kg:Agent kg:locatedIn kgr:x .", "kg:Agent is punned: used as class and individual"),
    ("kg:undeclared rdfs:label \"x\"@en . kgr:x kg:undeclared kgr:y .", "kg:undeclared must be declared exactly one"),
    ("kg:value a owl:ObjectProperty .", "kg:value must be declared exactly one"),
    ("kg:asOf rdfs:range xsd:date .", "rdfs:range xsd:date of kg:asOf is not in the OWL 2 datatype map"),
    ("kg:scope rdfs:range kg:Agent .", "datatype property kg:scope has rdfs:range kg:Agent, which is not a datatype"),
    ("kg:Deposit rdfs:subClassOf [ a owl:Restriction ; owl:onProperty kg:locatedIn ; owl:maxCardinality 1 ] .",
     "non-simple property kg:locatedIn (transitive or composite) is used in an owl:maxCardinality restriction"),
    ("kg:inside a owl:ObjectProperty ; rdfs:subPropertyOf kg:locatedIn . kg:locatedIn rdfs:subPropertyOf kg:near . "
     "kg:near a owl:ObjectProperty , owl:FunctionalProperty .",
     "non-simple property kg:near (transitive or composite) is declared owl:FunctionalProperty"),
    ("owl:Thing rdfs:subClassOf kg:Agent .", "reserved term owl:Thing is redefined"),
    ("kgr:x rdfs:member kgr:y .", "reserved term rdfs:member is used as a predicate"),
    ("kg:Thingy a rdfs:Resource .", "reserved term rdfs:Resource is used as a type"),
    ("kg:symbol rdfs:label kgr:x . kgr:y kg:symbol kgr:z .", "datatype property kg:symbol has a non-literal value"),
])
def test_owl2_dl_check_catches_each_restriction(parts: tuple[Graph, Graph], turtle: str, expected: str) -> None:
    problems = owl2_dl_problems(_with(parts[0], turtle))
    assert any(expected in p for p in problems), problems


def test_release_refuses_an_ontology_that_is_not_dl(built: BuildResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kgtool.errors import BadInputError
    from kgtool.release import release

    bad = _with(built.sources.ontology.graph, "kg:asOf rdfs:range xsd:date .")
    broken = replace(built, graph=built.graph + bad,
                     sources=replace(built.sources, ontology=replace(built.sources.ontology, graph=bad)))
    with pytest.raises(BadInputError, match="not OWL 2 DL"):
        release(Project(ROOT), "1.0.0", dist=tmp_path, built=broken)
    assert list(tmp_path.iterdir()) == []


# --- IRI stability ------------------------------------------------------------------------------

def test_iris_survive_a_rebuild_and_a_label_rename(built: BuildResult, project_copy: Project) -> None:
    registry = project_copy.data / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    renamed = text.replace("    type: StateCorporation\n    label: Rosatom\n",
                           "    type: StateCorporation\n    label: State Atomic Energy Corporation Rosatom\n", 1)
    assert renamed != text
    registry.write_text(renamed, encoding="utf-8")
    rebuilt = build(project_copy)
    assert str(rebuilt.graph.value(KGR.rosatom, RDFS.label)) == "State Atomic Energy Corporation Rosatom"
    assert iri_set(rebuilt.graph, str(KGR)) == iri_set(built.graph, str(KGR))
    assert iri_set(rebuilt.graph, BASE) == iri_set(built.graph, BASE), "claims, evidence, documents too"
    assert len(iri_set(built.graph, str(KGR))) > 100
