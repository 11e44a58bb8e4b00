"""The one place where kgtool's IRIs and prefixes are declared."""
from __future__ import annotations

from collections.abc import Mapping

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/kgtool/"
ONTOLOGY_IRI = BASE + "ontology"

KG = Namespace(BASE + "ontology#")       # ontology terms
KGV = Namespace(BASE + "vocab/")         # closed code lists: measures, units, qualifiers
KGR = Namespace(BASE + "resource/")      # entities
KGCLAIM = Namespace(BASE + "claim/")     # claims
KGEV = Namespace(BASE + "evidence/")     # evidence and selectors
KGDOC = Namespace(BASE + "document/")    # source documents
ORG = Namespace("http://www.w3.org/ns/org#")
OA = Namespace("http://www.w3.org/ns/oa#")
SH = Namespace("http://www.w3.org/ns/shacl#")
KGSH = Namespace(BASE + "shapes#")       # SHACL shapes

PREFIXES: dict[str, str] = {
    "kg": str(KG),
    "kgv": str(KGV),
    "kgr": str(KGR),
    "kgclaim": str(KGCLAIM),
    "kgev": str(KGEV),
    "kgdoc": str(KGDOC),
    "kgsh": str(KGSH),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
    "org": str(ORG),
    "oa": str(OA),
}



def short_name(term: object, namespaces: Mapping[str, str] = PREFIXES) -> str:
    """A prefixed name for an IRI in the given namespaces (the longest that fits), else the IRI itself."""
    text = str(term)
    for prefix, namespace in sorted(namespaces.items(), key=lambda item: -len(item[1])):
        if text.startswith(namespace) and len(text) > len(namespace):
            return f"{prefix}:{text[len(namespace):]}"
    return text


__all__ = ["BASE", "ONTOLOGY_IRI", "KG", "KGV", "KGR", "KGCLAIM", "KGEV", "KGDOC", "ORG", "OA", "SH", "KGSH",
           "PREFIXES", "short_name", "DCTERMS", "OWL", "PROV", "RDF", "RDFS", "SKOS", "XSD"]
