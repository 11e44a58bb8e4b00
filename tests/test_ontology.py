"""The ontology: one base IRI, versioned, every term labelled and defined, disjointness where true."""
from __future__ import annotations

import re

from rdflib import URIRef

from kgtool.config import Project
from kgtool.namespaces import KG, ONTOLOGY_IRI, OWL, PREFIXES, RDF, RDFS, SKOS
from kgtool.ontology import load_ontology


def test_prefixes_in_turtle_files_agree_with_namespaces(project: Project) -> None:
    for path in project.ontology.glob("*.ttl"):
        for prefix, iri in re.findall(r"@prefix\s+(\w*):\s+<([^>]+)>", path.read_text(encoding="utf-8")):
            assert PREFIXES.get(prefix) == iri, f"{path.name}: @prefix {prefix}: differs from kgtool/namespaces.py"


def test_version_iri_and_info(project: Project) -> None:
    g = load_ontology(project.ontology).graph
    onto = URIRef(ONTOLOGY_IRI)
    assert (onto, RDF.type, OWL.Ontology) in g
    assert g.value(onto, OWL.versionIRI) is not None
    assert g.value(onto, OWL.versionInfo) is not None
    assert not list(g.objects(onto, OWL.imports)), "nothing is imported whole"


def test_every_term_has_label_and_definition(project: Project) -> None:
    g = load_ontology(project.ontology).graph
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    terms = {s for kind in kinds for s in g.subjects(RDF.type, kind) if isinstance(s, URIRef)}
    assert len([t for t in terms if str(t).startswith(str(KG))]) > 100
    for term in terms:
        if term in (RDFS.label, RDFS.comment, RDFS.isDefinedBy):
            continue
        assert g.value(term, RDFS.label) is not None, term
        assert g.value(term, SKOS.definition) is not None, term
        if not str(term).startswith(str(KG)):
            assert g.value(term, RDFS.isDefinedBy) is not None, f"external term {term} names its vocabulary"


def test_person_organisation_and_state_firm_are_disjoint(project: Project) -> None:
    g = load_ontology(project.ontology).graph
    from kgtool.reason import _disjoint_pairs

    pairs = _disjoint_pairs(g)
    assert frozenset((KG.Person, KG.Organisation)) in pairs
    assert frozenset((KG.State, KG.Organisation)) in pairs
