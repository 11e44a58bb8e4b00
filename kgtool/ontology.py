"""Load the ontology (TBox and code lists) and answer what it declares."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, URIRef

from .errors import BadInputError
from .namespaces import OWL, RDF, SKOS
from .rdfio import load_graph


@dataclass(frozen=True)
class Ontology:
    """The ontology graph and the terms it declares."""

    graph: Graph
    files: tuple[Path, ...]

    def is_class(self, term: URIRef) -> bool:
        return (term, RDF.type, OWL.Class) in self.graph

    def property_kind(self, term: URIRef) -> URIRef | None:
        """owl:ObjectProperty, owl:DatatypeProperty or owl:AnnotationProperty, or None if undeclared."""
        for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty):
            if (term, RDF.type, kind) in self.graph:
                return kind
        return None

    def in_scheme(self, term: URIRef, scheme: URIRef) -> bool:
        return (term, SKOS.inScheme, scheme) in self.graph


def load_ontology(folder: Path) -> Ontology:
    """Every `*.ttl` file in the ontology folder, merged."""
    files = tuple(sorted(folder.glob("*.ttl")))
    if not files:
        raise BadInputError("no ontology files (*.ttl) found", path=folder)
    return Ontology(load_graph(*files), files)
