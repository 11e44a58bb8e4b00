"""Assemble the knowledge graph from corpus, ontology and curated facts, and derive what follows.

Every quote is anchored in its document first; every name must resolve. All problems are collected
and reported together, so one run tells the curator everything that is wrong and where.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .config import Project
from .corpus import Document, read_corpus
from .curated import load_curated
from .errors import BadInputError
from .evidence import Anchor, QuoteError, anchor
from .model import Claim, CuratedData, Entity, Named, Origin, QuantityClaim, QuoteRef, RelationClaim
from .namespaces import (DCTERMS, KG, KGCLAIM, KGDOC, KGEV, KGR, KGV, OA, OWL, PREFIXES, PROV, RDF, RDFS, SKOS,
                         XSD)
from .ontology import Ontology, load_ontology
from .store import Store, new_graph

DATE_TYPES = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), XSD.date),
    (re.compile(r"^\d{4}-\d{2}$"), XSD.gYearMonth),
    (re.compile(r"^\d{4}$"), XSD.gYear),
    (re.compile(r"^--\d{2}-\d{2}$"), XSD.gMonthDay),
    (re.compile(r"^--\d{2}$"), XSD.gMonth),
)
RULES = ("conflicts.rq",)


@dataclass(frozen=True)
class Sources:
    """Everything a build reads."""

    documents: dict[str, Document]
    curated: CuratedData
    ontology: Ontology


@dataclass(frozen=True)
class BuildResult:
    """The built graph, with what it was built from and how each quote was anchored."""

    graph: Graph
    sources: Sources
    anchors: dict[QuoteRef, Anchor]


class _Problems:
    """Problems found while building, reported together."""

    def __init__(self) -> None:
        self.items: list[tuple[Origin | None, str]] = []

    def add(self, origin: Origin | None, message: str) -> None:
        self.items.append((origin, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [f"{origin}: {message}" if origin else message for origin, message in self.items]
        if len(lines) == 1:
            origin, message = self.items[0]
            raise BadInputError(message, path=origin.path if origin else None, line=origin.line if origin else None,
                                hint="fix the curated data and build again")
        raise BadInputError(f"{len(lines)} problems in the curated data:\n  " + "\n  ".join(lines),
                            hint="fix each and build again")


def date_literal(value: str) -> Literal:
    """A date string at its stated precision as a typed literal; other text as a plain string."""
    for pattern, datatype in DATE_TYPES:
        if pattern.match(value):
            return Literal(value, datatype=datatype)
    return Literal(value)


def decimal_lexical(value: Decimal) -> str:
    """The canonical xsd:decimal form ("28700000.0", "28.7"), the same in every serialisation."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def expand_property(name: str) -> URIRef:
    """`controlledBy` -> kg:controlledBy; `org:subOrganizationOf` -> its full IRI."""
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix in PREFIXES:
            return URIRef(PREFIXES[prefix] + local)
    return KG[name]


def claim_iri(claim: Claim) -> URIRef:
    return KGCLAIM[f"{claim.doc_id}-{claim.id}" if claim.doc_id else f"background-{claim.id}"]


def evidence_iri(found: Anchor) -> URIRef:
    return KGEV[f"{found.doc_id}-{found.span.start}-{found.span.end}"]


def read_sources(project: Project) -> Sources:
    """Read corpus, curated data and ontology of the project."""
    return Sources(read_corpus(project.sources), load_curated(project.data), load_ontology(project.ontology))


def _anchor_all(sources: Sources, problems: _Problems) -> dict[QuoteRef, Anchor]:
    curated = sources.curated
    wanted: list[tuple[QuoteRef, bool]] = []
    for entity in curated.entities:
        wanted += [(ref, False) for ref in entity.evidence]
    for claim in curated.claims:
        if claim.quote is not None:
            metadata = isinstance(claim, RelationClaim) and claim.metadata
            wanted.append((claim.quote, not metadata))
    wanted += [(waiver.quote, True) for waiver in curated.waivers]
    anchors: dict[QuoteRef, Anchor] = {}
    seen: set[QuoteRef] = set()
    for ref, kept_only in wanted:
        if ref in seen:
            continue
        seen.add(ref)
        document = sources.documents.get(ref.doc_id)
        if document is None:
            problems.add(ref.origin, f"document {ref.doc_id} is not in the corpus (corpus/sources/{ref.doc_id}_*.txt)")
            continue
        try:
            anchors[ref] = anchor(document, ref.quote, occurrence=ref.occurrence, prefix=ref.prefix,
                                  kept_only=kept_only)
        except QuoteError as error:
            problems.add(ref.origin, str(error))
    return anchors


def _check_names(sources: Sources, problems: _Problems) -> None:
    curated, ontology = sources.curated, sources.ontology
    known: dict[str, Origin] = {}
    named: list[Named] = [*curated.elements, *curated.entities]
    for item in named:
        if item.id in known:
            problems.add(item.origin, f"entity id {item.id!r} is declared twice (first at {known[item.id]})")
        known[item.id] = item.origin
    for entity in curated.entities:
        for type_name in entity.types:
            if not ontology.is_class(KG[type_name]):
                problems.add(entity.origin, f"entity {entity.id}: unknown class kg:{type_name}")

    def need_entity(origin: Origin, claim_id: str, role: str, name: str | None) -> None:
        if name is not None and name not in known:
            problems.add(origin, f"claim {claim_id}: unknown entity {name!r} as {role}")

    def need_concept(origin: Origin, claim_id: str, role: str, name: str | None, scheme: str) -> None:
        if name is not None and not ontology.in_scheme(KGV[name], KGV[scheme]):
            problems.add(origin, f"claim {claim_id}: {name!r} is not in the {scheme} code list (ontology/vocabularies.ttl)")

    seen_claims: set[URIRef] = set()
    for claim in curated.claims:
        origin = claim.origin or (claim.quote.origin if claim.quote else Origin(Path("data"), 0))
        iri = claim_iri(claim)
        if iri in seen_claims:
            problems.add(origin, f"claim {claim.id} of document {claim.doc_id} is declared twice")
        seen_claims.add(iri)
        need_entity(origin, claim.id, "attributed_to", claim.attributed_to)
        if isinstance(claim, QuantityClaim):
            need_entity(origin, claim.id, "subject", claim.subject)
            need_entity(origin, claim.id, "commodity", claim.commodity)
            need_concept(origin, claim.id, "measure", claim.measure, "measures")
            need_concept(origin, claim.id, "unit", claim.unit, "units")
            need_concept(origin, claim.id, "qualifier", claim.qualifier, "qualifiers")
            need_concept(origin, claim.id, "classification", claim.classification, "classification-systems")
            continue
        if not claim.metadata:
            need_entity(origin, claim.id, "subject", claim.subject)
        need_entity(origin, claim.id, "object", claim.object)
        kind = ontology.property_kind(expand_property(claim.property))
        if kind is None:
            problems.add(origin, f"claim {claim.id}: property {claim.property!r} is not declared in the ontology")
        elif claim.object is not None and kind != OWL.ObjectProperty:
            problems.add(origin, f"claim {claim.id}: {claim.property} takes a literal 'value', not an 'object'")
        elif claim.value is not None and kind == OWL.ObjectProperty:
            problems.add(origin, f"claim {claim.id}: {claim.property} takes an entity 'object', not a 'value'")
    documents = {meta.doc_id: meta for meta in curated.documents}
    for doc_id, document in sources.documents.items():
        if doc_id not in documents:
            problems.add(None, f"{document.path}: document {doc_id} has no entry in data/documents.yaml")
    for meta in curated.documents:
        if meta.doc_id not in sources.documents:
            problems.add(meta.origin, f"document {meta.doc_id} is not in the corpus")


class _Writer:
    """Adds the curated data to a graph as triples."""

    def __init__(self, sources: Sources, anchors: dict[QuoteRef, Anchor]) -> None:
        self.sources = sources
        self.anchors = anchors
        self.graph = new_graph()
        named: list[Named] = [*sources.curated.elements, *sources.curated.entities]
        self.labels = {item.id: item.label for item in named}

    def add(self, s: Node, p: Node, o: Node) -> None:
        self.graph.add((s, p, o))

    def evidence(self, ref: QuoteRef) -> URIRef:
        found = self.anchors[ref]
        node = evidence_iri(found)
        quote, position = URIRef(f"{node}-quote"), URIRef(f"{node}-position")
        self.add(node, RDF.type, KG.Evidence)
        self.add(node, OA.hasSource, KGDOC[found.doc_id])
        self.add(node, OA.hasSelector, quote)
        self.add(node, OA.hasSelector, position)
        self.add(quote, RDF.type, OA.TextQuoteSelector)
        self.add(quote, OA.exact, Literal(found.exact))
        self.add(quote, OA.prefix, Literal(found.prefix))
        self.add(quote, OA.suffix, Literal(found.suffix))
        self.add(position, RDF.type, OA.TextPositionSelector)
        self.add(position, OA.start, Literal(found.span.start, datatype=XSD.nonNegativeInteger))
        self.add(position, OA.end, Literal(found.span.end, datatype=XSD.nonNegativeInteger))
        return node

    def names(self, node: URIRef, label: str, alt: tuple[str, ...]) -> None:
        self.add(node, RDFS.label, Literal(label, lang="en"))
        self.add(node, SKOS.prefLabel, Literal(label, lang="en"))
        for name in alt:
            self.add(node, SKOS.altLabel, Literal(name, lang="en"))

    def elements(self) -> None:
        curated = self.sources.curated
        for element in curated.elements:
            node = KGR[element.id]
            self.add(node, RDF.type, KG.ChemicalElement)
            if element.rare_earth:
                self.add(node, RDF.type, KG.RareEarthElement)
            if element.lanthanide:
                self.add(node, RDF.type, KG.Lanthanide)
            self.names(node, element.label, element.alt)
            self.add(node, KG.symbol, Literal(element.symbol))
            self.add(node, KG.atomicNumber, Literal(element.atomic_number, datatype=XSD.positiveInteger))
            self.add(node, DCTERMS.source, Literal(curated.element_source))

    def entity(self, entity: Entity) -> None:
        node = KGR[entity.id]
        for type_name in entity.types:
            self.add(node, RDF.type, KG[type_name])
        self.names(node, entity.label, entity.alt)
        for name in entity.former:
            self.add(node, KG.formerName, Literal(name))
        for ref in entity.evidence:
            self.add(node, KG.hasEvidence, self.evidence(ref))
        if entity.background:
            self.add(node, DCTERMS.source, Literal(entity.background))
        if entity.note:
            self.add(node, SKOS.editorialNote, Literal(entity.note))

    def document(self, document: Document) -> None:
        meta = next(m for m in self.sources.curated.documents if m.doc_id == document.doc_id)
        node = KGDOC[document.doc_id]
        title = meta.title or document.first_line.split(". ")[0][:200]
        self.add(node, RDF.type, KG.SourceDocument)
        self.add(node, RDFS.label, Literal(f"{document.doc_id}: {title}", lang="en"))
        self.add(node, DCTERMS.title, Literal(title, lang=meta.language))
        self.add(node, DCTERMS.language, Literal(meta.language))
        self.add(node, KG.documentId, Literal(document.doc_id))
        self.add(node, KG.fileName, Literal(document.path.name))
        self.add(node, KG.sha256, Literal(document.sha256))
        self.add(node, KG.content, Literal(document.text))
        self.add(node, KG.cleanedLength, Literal(len(document.cleaned_text), datatype=XSD.nonNegativeInteger))
        for removal in document.removed:
            self.add(node, KG.removedSpan, Literal(f"{removal.span.start}-{removal.span.end} {removal.reason}"))

    def claim_label(self, claim: Claim) -> str:
        if isinstance(claim, QuantityClaim):
            what = claim.measure.replace("-", " ")
            if claim.commodity:
                what += f" of {self.labels[claim.commodity]}"
            by = f", {self.labels[claim.attributed_to]}" if claim.attributed_to else ""
            when = f", {claim.as_of}" if claim.as_of else ""
            return f"{self.labels[claim.subject]}: {what} {claim.as_stated}{by}{when}"
        subject = f"document {claim.doc_id}" if claim.metadata else self.labels[claim.subject]
        target = self.labels[claim.object] if claim.object else claim.value
        return f"{subject} {claim.property.split(':')[-1]} {target}"

    def claim(self, claim: Claim) -> None:
        node = claim_iri(claim)
        local = str(node)[len(str(KGCLAIM)):]
        self.add(node, RDFS.label, Literal(f"{self.claim_label(claim)} [{local}]", lang="en"))
        if claim.quote is not None:
            self.add(node, PROV.wasDerivedFrom, KGDOC[claim.doc_id])
            self.add(node, KG.hasEvidence, self.evidence(claim.quote))
        if claim.reference:
            self.add(node, DCTERMS.source, Literal(claim.reference))
        if claim.attributed_to:
            self.add(node, KG.attributedTo, KGR[claim.attributed_to])
        if claim.as_of:
            self.add(node, KG.asOf, date_literal(claim.as_of))
        if claim.time_note:
            self.add(node, KG.timeNote, Literal(claim.time_note))
        if claim.as_stated:
            self.add(node, KG.asStated, Literal(claim.as_stated))
        if isinstance(claim, QuantityClaim):
            self.add(node, RDF.type, KG.QuantitativeClaim)
            self.add(node, KG.claimSubject, KGR[claim.subject])
            self.add(node, KG.measure, KGV[claim.measure])
            self.add(node, KG.value, Literal(decimal_lexical(claim.value), datatype=XSD.decimal))
            self.add(node, KG.unit, KGV[claim.unit])
            self.add(node, KG.qualifier, KGV[claim.qualifier])
            if claim.commodity:
                self.add(node, KG.commodity, KGR[claim.commodity])
            if claim.scope:
                self.add(node, KG.scope, Literal(claim.scope))
            if claim.hedge:
                self.add(node, KG.hedge, Literal(claim.hedge))
            if claim.classification:
                self.add(node, KG.classificationSystem, KGV[claim.classification])
            return
        subject = KGDOC[claim.doc_id] if claim.metadata else KGR[claim.subject]
        prop = expand_property(claim.property)
        self.add(node, RDF.type, KG.RelationClaim)
        self.add(node, KG.claimSubject, subject)
        self.add(node, KG.claimProperty, prop)
        if claim.object:
            self.add(node, KG.claimObject, KGR[claim.object])
        if claim.value is not None:
            self.add(node, KG.claimValue, date_literal(claim.value))
        if claim.start:
            self.add(node, KG.startTime, date_literal(claim.start))
        if claim.end:
            self.add(node, KG.endTime, date_literal(claim.end))
        if claim.object and not claim.end:
            self.add(subject, prop, KGR[claim.object])


def _derive(graph: Graph) -> None:
    """Run the rules (conflicts), then add direct literal triples for claims nobody contradicts.

    The rules run on Oxigraph (a copy of the graph); values are taken from the rdflib graph itself, so
    every literal keeps its lexical form."""
    store = Store.from_graph(graph)
    for rule in RULES:
        text = resources.files("kgtool").joinpath("rules").joinpath(rule).read_text(encoding="utf-8")
        derived = store.query(text).triples
        for triple in derived:
            graph.add(triple)
        store.add_triples(derived)
    uncontested = """
        SELECT ?claim ?subject ?property WHERE {
          ?claim a kg:RelationClaim ; kg:claimSubject ?subject ; kg:claimProperty ?property ; kg:claimValue ?value .
          FILTER NOT EXISTS { ?claim kg:endTime ?end }
          FILTER NOT EXISTS { ?claim kg:conflictsWith ?other }
        }"""
    for claim, subject, prop in store.query(uncontested).rows:
        assert claim is not None and subject is not None and prop is not None
        for value in graph.objects(claim, KG.claimValue):
            graph.add((subject, prop, value))


def build(project: Project) -> BuildResult:
    """Compile ontology, corpus and curated facts into one graph; BadInputError lists every problem."""
    sources = read_sources(project)
    problems = _Problems()
    anchors = _anchor_all(sources, problems)
    _check_names(sources, problems)
    problems.raise_if_any()
    writer = _Writer(sources, anchors)
    writer.graph += sources.ontology.graph
    writer.elements()
    for entity in sources.curated.entities:
        writer.entity(entity)
    for document in sources.documents.values():
        writer.document(document)
    for claim in sources.curated.claims:
        writer.claim(claim)
    _derive(writer.graph)
    return BuildResult(writer.graph, sources, anchors)


def built_files(project: Project) -> list[Path]:
    """The inputs a build reads, for messages and staleness checks."""
    return [*sorted(project.sources.glob("*.txt")), *sorted(project.ontology.glob("*.ttl")),
            *sorted(project.data.rglob("*.yaml"))]
