"""Write the graph in the serialisations other systems ingest, byte-stable for the same triples.

Three artefacts come out of one build:

- **ontology**: the TBox and code lists alone (`ontology/*.ttl`), with its owl:Ontology header;
- **data**: everything the build added to it (entities, elements, documents, claims, evidence,
  derived triples), without a single ontology triple;
- **merged**: both, the graph `kgtool build` writes.

N-Quads names the graph each triple belongs to:

- `https://w3id.org/kgtool/ontology` (the ontology's own IRI): the ontology's triples;
- `https://w3id.org/kgtool/document/NNN` (the document's IRI), one per source document: what that
  document says: the document node, its claims and their evidence and selectors (including the
  evidence that names entities in it);
- `https://w3id.org/kgtool/graph/shared`: everything else: entities, elements, background claims
  with no document, and every derived triple (`kg:conflictsWith` between claims, and the direct
  triples such as `kgr:solikamsk-magnesium-plant kg:controlledBy kgr:rosatom` or a document's
  `dcterms:date` that are derived from claims).

`owl2_dl_problems` is a structural check of the OWL 2 DL restrictions that matter for this
project; it is NOT a full OWL 2 DL profile validator (there is no OWL API here).
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from .build import BuildResult
from .namespaces import BASE, KG, KGDOC, OA, ONTOLOGY_IRI, OWL, PROV, RDF, RDFS, XSD
from .rdfio import RdfFormat, serialise, serialise_nquads, write_atomic
from .store import new_graph

ONTOLOGY_GRAPH = URIRef(ONTOLOGY_IRI)
SHARED_GRAPH = URIRef(BASE + "graph/shared")


class Artefact(str, Enum):
    """Which part of the built graph an export holds."""

    MERGED = "merged"
    ONTOLOGY = "ontology"
    DATA = "data"


def write_graph(graph: Graph, output: Path, rdf_format: RdfFormat = RdfFormat.TURTLE) -> int:
    """Serialise canonically and write atomically; returns the number of bytes written."""
    data = serialise(graph, rdf_format)
    write_atomic(output, data)
    return len(data)


def split(result: BuildResult) -> tuple[Graph, Graph]:
    """The ontology alone and the data alone; together they are exactly the merged graph."""
    ontology_triples = result.sources.ontology.graph
    ontology, data = new_graph(), new_graph()
    for triple in result.graph:
        (ontology if triple in ontology_triples else data).add(triple)
    return ontology, data


def artefact_graph(result: BuildResult, artefact: Artefact) -> Graph:
    """The graph of one artefact (merged is the build's own graph, not a copy)."""
    if artefact is Artefact.MERGED:
        return result.graph
    ontology, data = split(result)
    return ontology if artefact is Artefact.ONTOLOGY else data


def _derived(graph: Graph) -> set[tuple[Node, Node, Node]]:
    """Triples that follow from claims or rules, not stated by any one document."""
    derived: set[tuple[Node, Node, Node]] = set(graph.triples((None, KG.conflictsWith, None)))
    for claim in graph.subjects(KG.claimProperty, None):
        subject, prop = graph.value(claim, KG.claimSubject), graph.value(claim, KG.claimProperty)
        for target in (*graph.objects(claim, KG.claimObject), *graph.objects(claim, KG.claimValue)):
            if subject is not None and prop is not None and (subject, prop, target) in graph:
                derived.add((subject, prop, target))
    return derived


def named_graphs(result: BuildResult, artefact: Artefact = Artefact.MERGED) -> dict[URIRef, Graph]:
    """The artefact's triples by named graph (see the module docstring); every triple in exactly one."""
    ontology, data = split(result)
    graphs: dict[URIRef, Graph] = {}
    if artefact is not Artefact.DATA:
        graphs[ONTOLOGY_GRAPH] = ontology
    if artefact is Artefact.ONTOLOGY:
        return graphs
    documents = {KGDOC[doc_id] for doc_id in result.sources.documents}
    owner: dict[Node, URIRef] = {document: document for document in documents}
    for evidence, document in data.subject_objects(OA.hasSource):
        if document in documents:
            owner[evidence] = document  # type: ignore[assignment]
            for selector in data.objects(evidence, OA.hasSelector):
                owner[selector] = document  # type: ignore[assignment]
    for claim, document in data.subject_objects(PROV.wasDerivedFrom):
        if document in documents and ((claim, RDF.type, KG.QuantitativeClaim) in data
                                      or (claim, RDF.type, KG.RelationClaim) in data):
            owner[claim] = document  # type: ignore[assignment]
    derived = _derived(data)
    for name in sorted(documents):
        graphs[name] = new_graph()
    graphs[SHARED_GRAPH] = new_graph()
    for triple in data:
        name = SHARED_GRAPH if triple in derived else owner.get(triple[0], SHARED_GRAPH)
        graphs[name].add(triple)
    _check_blank_nodes_stay_in_one_graph(graphs)
    return graphs


def _check_blank_nodes_stay_in_one_graph(graphs: dict[URIRef, Graph]) -> None:
    seen: dict[BNode, URIRef] = {}
    for name, graph in graphs.items():
        for triple in graph:
            for term in triple:
                if isinstance(term, BNode) and seen.setdefault(term, name) != name:
                    raise RuntimeError(f"blank node {term} is in graphs {seen[term]} and {name}; this is a bug")


def export_bytes(result: BuildResult, rdf_format: RdfFormat, artefact: Artefact = Artefact.MERGED) -> bytes:
    """One artefact in one serialisation; N-Quads with one named graph per document (module docstring)."""
    if rdf_format is RdfFormat.NQUADS:
        graphs: dict[URIRef | None, Graph] = {name: graph for name, graph in named_graphs(result, artefact).items()}
        return serialise_nquads(graphs)
    return serialise(artefact_graph(result, artefact), rdf_format)


def write_export(result: BuildResult, output: Path, rdf_format: RdfFormat,
                 artefact: Artefact = Artefact.MERGED) -> int:
    """`export_bytes`, written atomically; returns the number of bytes written."""
    data = export_bytes(result, rdf_format, artefact)
    write_atomic(output, data)
    return len(data)


# --- OWL 2 DL: a structural check ---------------------------------------------------------------

RESERVED_NAMESPACES = (str(RDF), str(RDFS), str(OWL), str(XSD))

OWL2_DATATYPES = frozenset({
    RDF.PlainLiteral, RDF.XMLLiteral, RDF.langString, RDFS.Literal, OWL.real, OWL.rational,
    *(XSD[name] for name in (
        "decimal", "integer", "nonNegativeInteger", "nonPositiveInteger", "positiveInteger", "negativeInteger",
        "long", "int", "short", "byte", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte",
        "double", "float", "string", "normalizedString", "token", "language", "Name", "NCName", "NMTOKEN",
        "boolean", "hexBinary", "base64Binary", "anyURI", "dateTime", "dateTimeStamp")),
})

BUILTIN_ANNOTATION_PROPERTIES = frozenset({
    RDFS.label, RDFS.comment, RDFS.seeAlso, RDFS.isDefinedBy, OWL.deprecated, OWL.versionInfo,
    OWL.priorVersion, OWL.backwardCompatibleWith, OWL.incompatibleWith})

PROPERTY_KINDS = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)

# Reserved terms the OWL 2 RDF mapping gives a meaning to as a predicate, or as the object of rdf:type.
MAPPING_PREDICATES = frozenset({
    RDF.type, RDF.first, RDF.rest, RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range,
    *BUILTIN_ANNOTATION_PROPERTIES,
    *(OWL[name] for name in (
        "imports", "versionIRI", "equivalentClass", "disjointWith", "complementOf", "unionOf", "intersectionOf",
        "oneOf", "members", "distinctMembers", "disjointUnionOf", "onProperty", "onProperties", "someValuesFrom",
        "allValuesFrom", "hasValue", "hasSelf", "cardinality", "minCardinality", "maxCardinality",
        "qualifiedCardinality", "minQualifiedCardinality", "maxQualifiedCardinality", "onClass", "onDataRange",
        "onDatatype", "withRestrictions", "datatypeComplementOf", "inverseOf", "equivalentProperty",
        "propertyDisjointWith", "propertyChainAxiom", "hasKey", "sameAs", "differentFrom",
        "annotatedSource", "annotatedProperty", "annotatedTarget", "sourceIndividual", "assertionProperty",
        "targetIndividual", "targetValue")),
    *(XSD[name] for name in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "length",
                             "minLength", "maxLength", "pattern")),
    URIRef(str(RDF) + "langRange"),
})
MAPPING_TYPES = frozenset({
    RDFS.Datatype, RDF.List,
    *(OWL[name] for name in (
        "Ontology", "Class", "Restriction", "ObjectProperty", "DatatypeProperty", "AnnotationProperty",
        "NamedIndividual", "FunctionalProperty", "InverseFunctionalProperty", "TransitiveProperty",
        "SymmetricProperty", "AsymmetricProperty", "ReflexiveProperty", "IrreflexiveProperty",
        "AllDisjointClasses", "AllDisjointProperties", "AllDifferent", "NegativePropertyAssertion",
        "Axiom", "Annotation", "Thing", "Nothing")),
})
CLASS_TERMS = frozenset({OWL.Thing, OWL.Nothing})
CARDINALITIES = tuple(OWL[name] for name in ("cardinality", "minCardinality", "maxCardinality", "qualifiedCardinality",
                                             "minQualifiedCardinality", "maxQualifiedCardinality"))
SIMPLE_ONLY_TYPES = (OWL.FunctionalProperty, OWL.InverseFunctionalProperty, OWL.IrreflexiveProperty,
                     OWL.AsymmetricProperty)


def _reserved(term: Node) -> bool:
    return isinstance(term, URIRef) and str(term).startswith(RESERVED_NAMESPACES)


def _ours(term: Node) -> bool:
    return isinstance(term, URIRef) and str(term).startswith(BASE)


def owl2_dl_problems(graph: Graph) -> list[str]:
    """Violations of the OWL 2 DL restrictions that matter for kgtool, one sentence each; [] when none.

    This is a STRUCTURAL check, not a full OWL 2 DL profile validator: it reads the RDF triples and
    checks only the restrictions below; anything else (e.g. the global restrictions on property
    hierarchies beyond simplicity, or the well-formedness of every axiom's RDF encoding) is not
    checked. It finds:

    1. punning: an IRI of ours (under https://w3id.org/kgtool/) that is more than one of a class, a
       property and an individual (OWL 2 DL allows some punning; kgtool allows none);
    2. a property (declared, or used as a predicate) without exactly one of owl:ObjectProperty,
       owl:DatatypeProperty and owl:AnnotationProperty, or used with the wrong kind of object;
    3. a datatype outside the OWL 2 datatype map as the declared rdfs:range of a property (xsd:date,
       xsd:gYear, ...), a datatype property whose range is not a datatype, or a literal of such a
       datatype used as a property value (which is why the merged graph, with its xsd:date values,
       is not OWL 2 DL while the ontology is);
    4. a non-simple property (transitive, with a property chain, or a super-property or inverse of
       one) in a cardinality restriction, owl:hasSelf, or declared functional, inverse-functional,
       irreflexive, asymmetric or disjoint with another property;
    5. reserved vocabulary misused: a term of rdf:, rdfs:, owl: or xsd: redefined (given triples of
       its own beyond declaring a built-in annotation property), or used as a predicate or type that
       the OWL 2 RDF mapping does not know.
    """
    problems: set[str] = set()

    def name(term: Node) -> str:
        return graph.namespace_manager.normalizeUri(term) if isinstance(term, URIRef) else term.n3()

    declared = {kind: set(graph.subjects(RDF.type, kind)) for kind in PROPERTY_KINDS}
    classes = set(graph.subjects(RDF.type, OWL.Class)) | set(graph.subjects(RDF.type, RDFS.Class)) | CLASS_TERMS
    datatypes = set(graph.subjects(RDF.type, RDFS.Datatype)) | OWL2_DATATYPES
    properties = set().union(*declared.values())
    structural = {s for s, o in graph.subject_objects(RDF.type)
                  if o in (OWL.Restriction, OWL.AllDisjointClasses, OWL.AllDisjointProperties, OWL.AllDifferent,
                           OWL.Axiom, OWL.Annotation, OWL.NegativePropertyAssertion, OWL.Ontology)}

    # 2. every property exactly one kind, used accordingly
    used = {p for p in graph.predicates() if not _reserved(p)}
    for prop in sorted(properties | used | set(graph.subjects(RDF.type, RDF.Property)), key=str):
        if prop in BUILTIN_ANNOTATION_PROPERTIES:
            continue
        kinds = [kind for kind in PROPERTY_KINDS if prop in declared[kind]]
        if len(kinds) != 1:
            shown = ", ".join(name(k) for k in kinds) or "none"
            problems.add(f"{name(prop)} must be declared exactly one of owl:ObjectProperty, owl:DatatypeProperty, "
                         f"owl:AnnotationProperty (declared: {shown})")
            continue
        for s, o in graph.subject_objects(prop):
            if kinds[0] == OWL.ObjectProperty and isinstance(o, Literal):
                problems.add(f"object property {name(prop)} has a literal value ({name(s)})")
            elif kinds[0] == OWL.DatatypeProperty and not isinstance(o, Literal):
                problems.add(f"datatype property {name(prop)} has a non-literal value ({name(s)})")

    # 3. datatypes
    for prop, rng in graph.subject_objects(RDFS.range):
        if _reserved(rng) and rng not in OWL2_DATATYPES and rng not in CLASS_TERMS:
            problems.add(f"rdfs:range {name(rng)} of {name(prop)} is not in the OWL 2 datatype map")
        elif prop in declared[OWL.DatatypeProperty] and rng not in datatypes:
            problems.add(f"datatype property {name(prop)} has rdfs:range {name(rng)}, which is not a datatype")
        elif prop in declared[OWL.ObjectProperty] and rng not in classes and not isinstance(rng, BNode):
            problems.add(f"object property {name(prop)} has rdfs:range {name(rng)}, which is not a declared class")
    for _, p, o in graph:
        if isinstance(o, Literal) and o.datatype is not None and o.datatype not in datatypes:
            problems.add(f"{name(p)} has values of datatype {name(o.datatype)}, which is not in the OWL 2 datatype "
                         "map (and the reserved xsd: namespace cannot declare it)")

    # 1. punning between class, property and individual, for our IRIs
    individuals: set[Node] = set(graph.subjects(RDF.type, OWL.NamedIndividual))
    for s, o in graph.subject_objects(RDF.type):
        if not _reserved(o) and s not in structural:
            individuals.add(s)
    for prop in declared[OWL.ObjectProperty] | declared[OWL.DatatypeProperty]:
        for s, o in graph.subject_objects(prop):
            individuals.add(s)
            if prop in declared[OWL.ObjectProperty]:
                individuals.add(o)
    for term in sorted({t for t in classes | properties | individuals | datatypes if _ours(t)}, key=str):
        roles = [role for role, members in (("class", classes | datatypes), ("property", properties),
                                            ("individual", individuals)) if term in members]
        if len(roles) > 1:
            problems.add(f"{name(term)} is punned: used as {' and '.join(roles)}")

    # 4. simple properties where OWL 2 DL needs them
    non_simple = set(graph.subjects(RDF.type, OWL.TransitiveProperty)) | set(graph.subjects(OWL.propertyChainAxiom, None))
    changed = True
    while changed:
        before = len(non_simple)
        for sub, sup in graph.subject_objects(RDFS.subPropertyOf):
            if sub in non_simple:
                non_simple.add(sup)
        for a, b in graph.subject_objects(OWL.inverseOf):
            if a in non_simple or b in non_simple:
                non_simple |= {a, b}
        changed = len(non_simple) != before
    for restriction in set(graph.subjects(OWL.onProperty, None)):
        restricted = graph.value(restriction, OWL.onProperty)
        if restricted in non_simple:
            for kind in (*CARDINALITIES, OWL.hasSelf):
                if (restriction, kind, None) in graph:
                    problems.add(f"non-simple property {name(restricted)} (transitive or composite) is used in an "
                                 f"{name(kind)} restriction")
    for kind in SIMPLE_ONLY_TYPES:
        for prop in graph.subjects(RDF.type, kind):
            if prop in non_simple:
                problems.add(f"non-simple property {name(prop)} (transitive or composite) is declared {name(kind)}")
    disjoint: list[Node] = [*graph.subjects(OWL.propertyDisjointWith, None), *graph.objects(None, OWL.propertyDisjointWith)]
    for group in graph.subjects(RDF.type, OWL.AllDisjointProperties):
        members = graph.value(group, OWL.members)
        if members is not None:
            disjoint += list(Collection(graph, members))
    for prop in disjoint:
        if prop in non_simple:
            problems.add(f"non-simple property {name(prop)} (transitive or composite) is declared disjoint")

    # 5. reserved vocabulary
    for s, p, o in graph:
        if _reserved(s) and not ((p, o) == (RDF.type, OWL.AnnotationProperty) and s in BUILTIN_ANNOTATION_PROPERTIES):
            problems.add(f"reserved term {name(s)} is redefined ({name(p)} {o.n3(graph.namespace_manager)})")
        if _reserved(p) and p not in MAPPING_PREDICATES:
            problems.add(f"reserved term {name(p)} is used as a predicate, which the OWL 2 mapping does not allow")
        if p == RDF.type and _reserved(o) and o not in MAPPING_TYPES:
            problems.add(f"reserved term {name(o)} is used as a type, which the OWL 2 mapping does not allow")
        for position, term in (("subclass", s), ("superclass", o)):
            if p == RDFS.subClassOf and _reserved(term) and term not in CLASS_TERMS:
                problems.add(f"reserved term {name(term)} is used as a {position}")
    return sorted(problems)


def iri_set(graph: Graph, namespace: str) -> set[URIRef]:
    """Every IRI in the graph (any position) that starts with `namespace`."""
    found: set[URIRef] = set()
    for triple in graph:
        found.update(term for term in triple if isinstance(term, URIRef) and str(term).startswith(namespace))
    return found
