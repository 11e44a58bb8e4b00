"""Synthetic knowledge graphs of any size, in kgtool's own ontology, with a known list of planted violations.

`synth(triples, seed)` returns an rdflib graph and its manifest; `write_synth(path, triples, seed)` streams
the same triples as N-Triples to a file without holding them in memory (use it from 100k triples up).
The same `(triples, seed)` gives byte-identical output in every process, whatever PYTHONHASHSEED is:
everything is drawn from one `random.Random(seed)` and nothing depends on set or hash order.

What is in a synthetic graph, as the build would emit it:

- the ontology and code lists (`ontology/*.ttl`) and the chemical elements of `data/elements.yaml` (the 17
  rare earths typed as the build types them), so that SHACL targets reach subclass instances;
- synthetic source documents `kgdoc:NNN` whose `kg:content` is the concatenation of every sentence quoted
  from them, so that every evidence's `oa:exact` is the text between its `oa:start` and `oa:end`;
- states, regions, ministries, state corporations and chains of firms below them (org:subOrganizationOf,
  kg:controlledBy, kg:holdsLicenceFor, kg:owns as relation claims with start and end years; control and
  licences change hands over time, the ended claim kg:supersededBy the new one, and only claims with no
  end yield the direct triple), deposits, processing and magnet plants, agreements with foreign firms;
- quantitative claims (reserves, production, shares) with deliberate conflicts, `kg:conflictsWith` in both
  directions exactly where `kgtool/rules/conflicts.rq` derives it, and "differences" (same figure key,
  different agents) where it does not;
- a known number of planted SHACL results of several kinds (the manifest lists focus node, path,
  constraint component, severity and source shape of each); apart from them the graph conforms to
  `shapes/` with no violation, warning or info.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from rdflib import Graph, Literal, URIRef

from .config import Project, find_project
from .curated import load_curated
from .errors import BadInputError
from .namespaces import (DCTERMS, KG, KGCLAIM, KGDOC, KGEV, KGR, KGSH, KGV, OA, ORG, PROV, RDF, RDFS, SH, SKOS,
                         XSD)
from .ontology import load_ontology
from .rdfio import RdfFormat, atomic_output, serialise, write_atomic
from .store import new_graph

MIN_TRIPLES = 2_000
CONTEXT = 32  # code points of oa:prefix / oa:suffix, as the build stores them
MAX_DOCUMENTS = 1000  # document ids are three digits


# ------------------------------------------------------------------------------------------------ manifest

@dataclass(frozen=True)
class PlantedViolation:
    """One SHACL result the synthetic graph was made to give, under the SHACL names."""

    kind: str
    focus_node: URIRef
    result_path: URIRef | None
    source_constraint_component: URIRef
    severity: URIRef  # sh:Violation, sh:Warning or sh:Info
    source_shape: URIRef
    value: Any = None  # an rdflib term when the result has a sh:value worth checking

    def key(self) -> tuple[URIRef, URIRef | None, URIRef, URIRef]:
        """(focus node, path, constraint component, severity): what a validator must report."""
        return (self.focus_node, self.result_path, self.source_constraint_component, self.severity)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "focusNode": str(self.focus_node),
                "resultPath": None if self.result_path is None else str(self.result_path),
                "sourceConstraintComponent": str(self.source_constraint_component),
                "resultSeverity": str(self.severity), "sourceShape": str(self.source_shape),
                "value": None if self.value is None else self.value.n3()}


@dataclass(frozen=True)
class SynthManifest:
    """What a synthetic graph holds: its size, its seed, what was planted and how much of each thing."""

    requested: int
    seed: int
    triples: int
    violations: tuple[PlantedViolation, ...]
    conflicting_pairs: int
    counts: dict[str, int] = field(default_factory=dict)

    def keys(self) -> list[tuple[URIRef, URIRef | None, URIRef, URIRef]]:
        return sorted((v.key() for v in self.violations), key=lambda k: tuple(str(x) for x in k))

    def to_json(self) -> dict[str, Any]:
        return {"requested": self.requested, "seed": self.seed, "triples": self.triples,
                "conflictingPairs": self.conflicting_pairs, "counts": dict(sorted(self.counts.items())),
                "violations": [v.to_json() for v in self.violations]}


@dataclass(frozen=True)
class SynthResult:
    graph: Graph
    manifest: SynthManifest


# ------------------------------------------------------------------------------------------------ N-Triples terms

def _iri(value: str) -> str:
    return f"<{value}>"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def _str(text: str) -> str:
    return f'"{_escape(text)}"'


def _en(text: str) -> str:
    return f'"{_escape(text)}"@en'


def _typed(lexical: str, datatype: URIRef) -> str:
    return f'"{_escape(lexical)}"^^<{datatype}>'


def _decimal(value: Decimal) -> str:
    """The canonical xsd:decimal lexical form the build writes ("28700000.0", "28.7")."""
    text = format(value.normalize(), "f")
    return _typed(text if "." in text else text + ".0", XSD.decimal)


A = _iri(str(RDF.type))
LABEL, PREF, ALT = _iri(str(RDFS.label)), _iri(str(SKOS.prefLabel)), _iri(str(SKOS.altLabel))
SOURCE = _iri(str(DCTERMS.source))


def _kg(local: str) -> str:
    return _iri(str(KG[local]))


def _kgv(local: str) -> str:
    return _iri(str(KGV[local]))


def _kgr(slug: str) -> str:
    return _iri(str(KGR[slug]))


SUB_ORG = _iri(str(ORG.subOrganizationOf))

# ------------------------------------------------------------------------------------------------ names

_SYLLABLES = ("ka", "ra", "to", "mi", "ne", "vo", "lu", "sa", "de", "ri", "no", "ta", "be", "go", "zu", "pe",
              "la", "ko", "ve", "shi", "dan", "mor", "tel", "vik", "bor", "len", "gar", "sul", "tam", "dor")
_FIRM_WORDS = ("Mining", "Metals", "Resources", "Minerals", "Rare Metals", "Extraction", "Industrial", "Holding")
_FIRM_FORMS = ("JSC", "LLC", "Ltd", "Group", "PLC", "Corp")


class _Names:
    """Unique labels and slugs, drawn from the generator's random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4))).capitalize()

    def unique(self, make: Callable[[], str]) -> tuple[str, str]:
        for _ in range(10_000):
            label = make()
            slug = "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())
            if slug not in self.used:
                self.used.add(slug)
                return label, slug
        raise RuntimeError("ran out of synthetic names")  # pragma: no cover


# ------------------------------------------------------------------------------------------------ documents

@dataclass
class _Document:
    doc_id: str
    year: int
    date: str
    publisher: str
    parts: list[str]
    length: int
    sentences: int
    evidence: dict[tuple[int, int], str | None]  # span -> altered exact (planted mismatch) or None
    integer_start: set[tuple[int, int]]  # spans whose oa:start is planted as xsd:integer


@dataclass(frozen=True)
class _Span:
    doc_id: str
    start: int
    end: int

    @property
    def evidence(self) -> str:
        return _iri(str(KGEV[f"{self.doc_id}-{self.start}-{self.end}"]))

    @property
    def document(self) -> str:
        return _iri(str(KGDOC[self.doc_id]))


# ------------------------------------------------------------------------------------------------ the generator

@dataclass
class _Figure:
    subject: str
    measure: str
    unit: str
    commodity: str | None


class _Generator:
    def __init__(self, sink: Callable[[str], None], triples: int, seed: int, project: Project) -> None:
        self.sink = sink
        self.count = 0
        self.target = triples
        self.seed = seed
        self.project = project
        self.rng = random.Random(seed)
        self.names = _Names(self.rng)
        self.violations: list[PlantedViolation] = []
        self.counts: dict[str, int] = {}
        self.conflicts = 0
        self.claim_number = 0
        self.document_number = 0
        estimated_sentences = max(1, triples // 22)
        self.per_document = max(10, math.ceil(estimated_sentences / (MAX_DOCUMENTS - 50)))
        self.document: _Document | None = None
        self.outlets: list[str] = []
        self.states: list[dict[str, Any]] = []
        self.firms: list[str] = []  # companies that can be previous owners or foreign partners
        self.figure_years: dict[tuple[str, str, str, str | None], set[int]] = {}

    # -- output

    def t(self, s: str, p: str, o: str) -> None:
        self.sink(f"{s} {p} {o} .\n")
        self.count += 1

    def tally(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def pending(self) -> int:
        """Triples owed to the open document when it is written: its own and its evidence's."""
        return 0 if self.document is None else 14 + 11 * len(self.document.evidence)

    # -- documents and evidence

    def open_document(self) -> _Document:
        if self.document_number >= MAX_DOCUMENTS:
            raise RuntimeError("synthetic graph needs more than 1000 documents")  # pragma: no cover
        doc_id = f"{self.document_number:03d}"
        self.document_number += 1
        year = self.rng.choice((2024, 2025))
        date = f"{year}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"
        header = f"Synthetic report {doc_id} (seed {self.seed}), {date}\n\n"
        self.document = _Document(doc_id, year, date, self.rng.choice(self.outlets), [header], len(header), 0, {},
                                  set())
        return self.document

    def current(self) -> _Document:
        if self.document is None or self.document.sentences >= self.per_document:
            self.close_document()
            return self.open_document()
        return self.document

    def say(self, sentence: str, *, exact: str | None = None, integer_start: bool = False) -> _Span:
        """Append a sentence to the open document; its span is the evidence of what it supports."""
        document = self.current()
        if document.sentences and document.sentences % 4 == 0:
            document.parts.append("\n\n")
            document.length += 2
        elif document.sentences:
            document.parts.append(" ")
            document.length += 1
        start = document.length
        document.parts.append(sentence)
        document.length += len(sentence)
        document.sentences += 1
        span = (start, document.length)
        document.evidence[span] = exact
        if integer_start:
            document.integer_start.add(span)
        return _Span(document.doc_id, *span)

    def close_document(self) -> None:
        document = self.document
        if document is None:
            return
        self.document = None
        content = "".join(document.parts)
        node = _iri(str(KGDOC[document.doc_id]))
        title = f"Synthetic report {document.doc_id}"
        self.t(node, A, _kg("SourceDocument"))
        self.t(node, LABEL, _en(f"{document.doc_id}: {title}"))
        self.t(node, _iri(str(DCTERMS.title)), _en(title))
        self.t(node, _iri(str(DCTERMS.language)), _str("en"))
        self.t(node, _kg("documentId"), _str(document.doc_id))
        self.t(node, _kg("fileName"), _str(f"{document.doc_id}_synthetic-{self.seed}.txt"))
        self.t(node, _kg("sha256"), _str(hashlib.sha256(content.encode("utf-8")).hexdigest()))
        self.t(node, _kg("content"), _str(content))
        self.t(node, _kg("cleanedLength"), _typed(str(len(content)), XSD.nonNegativeInteger))
        self.t(node, _iri(str(DCTERMS.date)), _typed(document.date, XSD.date))
        self.t(node, _iri(str(DCTERMS.publisher)), document.publisher)
        self.tally("documents")
        for (start, end), altered in document.evidence.items():
            evidence = f"{KGEV}{document.doc_id}-{start}-{end}"
            quote, position = _iri(evidence + "-quote"), _iri(evidence + "-position")
            self.t(_iri(evidence), A, _kg("Evidence"))
            self.t(_iri(evidence), _iri(str(OA.hasSource)), node)
            self.t(_iri(evidence), _iri(str(OA.hasSelector)), quote)
            self.t(_iri(evidence), _iri(str(OA.hasSelector)), position)
            self.t(quote, A, _iri(str(OA.TextQuoteSelector)))
            self.t(quote, _iri(str(OA.exact)), _str(altered if altered is not None else content[start:end]))
            self.t(quote, _iri(str(OA.prefix)), _str(content[max(0, start - CONTEXT):start]))
            self.t(quote, _iri(str(OA.suffix)), _str(content[end:end + CONTEXT]))
            self.t(position, A, _iri(str(OA.TextPositionSelector)))
            start_type = XSD.integer if (start, end) in document.integer_start else XSD.nonNegativeInteger
            self.t(position, _iri(str(OA.start)), _typed(str(start), start_type))
            self.t(position, _iri(str(OA.end)), _typed(str(end), XSD.nonNegativeInteger))
            self.tally("evidence")

    # -- entities and claims

    def entity(self, slug: str, types: tuple[str, ...], label: str, span: _Span | None,
               reference: str | None = None, alt: tuple[str, ...] = ()) -> str:
        node = _kgr(slug)
        for kind in types:
            self.t(node, A, _kg(kind))
            self.tally(kind)
        self.t(node, LABEL, _en(label))
        self.t(node, PREF, _en(label))
        for name in alt:
            self.t(node, ALT, _en(name))
        if span is not None:
            self.t(node, _kg("hasEvidence"), span.evidence)
        if reference is not None:
            self.t(node, SOURCE, _str(reference))
        return node

    def claim_node(self, span: _Span, kind: str) -> tuple[str, str]:
        self.claim_number += 1
        local = f"{span.doc_id}-{kind}-{self.claim_number}"
        return _iri(str(KGCLAIM[local])), local

    def relation(self, span: _Span, subject: str, prop: str, obj: str, label: str, *, start: int | None = None,
                 end: int | None = None, direct: bool = True, label_literal: str | None = None) -> str:
        """A relation claim (and its direct triple when it has no end), as the build writes it."""
        node, local = self.claim_node(span, "rel")
        self.t(node, A, _kg("RelationClaim"))
        self.t(node, LABEL, label_literal if label_literal is not None else _en(f"{label} [{local}]"))
        self.t(node, _iri(str(PROV.wasDerivedFrom)), span.document)
        self.t(node, _kg("hasEvidence"), span.evidence)
        self.t(node, _kg("claimSubject"), subject)
        self.t(node, _kg("claimProperty"), prop)
        self.t(node, _kg("claimObject"), obj)
        if start is not None:
            self.t(node, _kg("startTime"), _typed(str(start), XSD.gYear))
        if end is not None:
            self.t(node, _kg("endTime"), _typed(str(end), XSD.gYear))
        if direct and end is None:
            self.t(subject, prop, obj)
        self.tally("RelationClaim")
        return node

    def quantity(self, span: _Span, figure: _Figure, value: Decimal, as_stated: str, *, qualifier: str,
                 as_of: str, agent: str | None, label: str, classification: str | None = None,
                 unit_missing: bool = False, hedge: str | None = None) -> str:
        node, local = self.claim_node(span, figure.measure)
        self.t(node, A, _kg("QuantitativeClaim"))
        self.t(node, LABEL, _en(f"{label} [{local}]"))
        self.t(node, _iri(str(PROV.wasDerivedFrom)), span.document)
        self.t(node, _kg("hasEvidence"), span.evidence)
        self.t(node, _kg("claimSubject"), figure.subject)
        self.t(node, _kg("measure"), _kgv(figure.measure))
        self.t(node, _kg("value"), _decimal(value))
        if not unit_missing:
            self.t(node, _kg("unit"), _kgv(figure.unit))
        self.t(node, _kg("qualifier"), qualifier)
        if figure.commodity is not None:
            self.t(node, _kg("commodity"), figure.commodity)
        self.t(node, _kg("asStated"), _str(as_stated))
        year_type = XSD.gYear if len(as_of) == 4 else XSD.gYearMonth
        self.t(node, _kg("asOf"), _typed(as_of, year_type))
        if agent is not None:
            self.t(node, _kg("attributedTo"), agent)
        if classification is not None:
            self.t(node, _kg("classificationSystem"), _kgv(classification))
        if hedge is not None:
            self.t(node, _kg("hedge"), _str(hedge))
        self.tally("QuantitativeClaim")
        return node

    def conflict(self, a: str, b: str) -> None:
        self.t(a, _kg("conflictsWith"), b)
        self.t(b, _kg("conflictsWith"), a)
        self.conflicts += 1

    def plant(self, kind: str, focus: str, path: URIRef | None, component: str, severity: URIRef, shape: str,
              value: Any = None) -> None:
        self.violations.append(PlantedViolation(kind, URIRef(focus[1:-1]), path, SH[component], severity,
                                                KGSH[shape], value))

    # -- fixed parts

    def ontology(self) -> None:
        data = serialise(load_ontology(self.project.ontology).graph, RdfFormat.NTRIPLES).decode("utf-8")
        for line in data.splitlines():
            if line:
                self.sink(line + "\n")
                self.count += 1

    def elements(self, bad_symbols: int) -> None:
        curated = load_curated(self.project.data)
        chosen = set(self.rng.sample(range(len(curated.elements)), min(bad_symbols, len(curated.elements))))
        self.rare_earths: list[str] = []
        for index, element in enumerate(curated.elements):
            node = _kgr(element.id)
            self.t(node, A, _kg("ChemicalElement"))
            if element.rare_earth:
                self.t(node, A, _kg("RareEarthElement"))
                self.rare_earths.append(node)
            if element.lanthanide:
                self.t(node, A, _kg("Lanthanide"))
            self.t(node, LABEL, _en(element.label))
            self.t(node, PREF, _en(element.label))
            for name in element.alt:
                self.t(node, ALT, _en(name))
            symbol = element.symbol.lower() + "1" if index in chosen else element.symbol
            self.t(node, _kg("symbol"), _str(symbol))
            self.t(node, _kg("atomicNumber"), _typed(str(element.atomic_number), XSD.positiveInteger))
            self.t(node, SOURCE, _str(curated.element_source))
            self.tally("ChemicalElement")
            if index in chosen:
                self.plant("bad-symbol-pattern", node, KG.symbol, "PatternConstraintComponent", SH.Violation,
                           "ChemicalElementShape-symbol", Literal(symbol))

    def anchors(self) -> None:
        """The named things the saved queries default to, and the materials everything else refers to."""
        gazetteer = f"kgtool synthetic gazetteer (seed {self.seed})"
        for slug, label in (("interfax-synthetic", "Interfax Synthetic"), ("mining-weekly-synthetic",
                                                                            "Mining Weekly Synthetic")):
            self.outlets.append(self.entity(slug, ("MediaOutlet",), label, None, gazetteer))
            self.names.used.add(slug)
        self.materials: dict[str, str] = {}
        group = self.entity("rare-earth-metals", ("CommodityGroup",), "rare-earth metals", None, gazetteer,
                            alt=("REM",))
        for element in self.rare_earths:
            self.t(group, _kg("containsElement"), element)
        self.t(group, _kg("elementCount"), _typed(str(len(self.rare_earths)), XSD.nonNegativeInteger))
        self.materials["rare-earth-metals"] = group
        for slug, kind, label in (("rare-earth-oxides", "Oxide", "rare-earth oxides"),
                                  ("loparite-concentrate", "Concentrate", "loparite concentrate"),
                                  ("rare-earth-magnets", "Product", "rare-earth permanent magnets")):
            node = self.entity(slug, (kind,), label, None, gazetteer)
            self.t(node, _kg("containsElement"), self.rng.choice(self.rare_earths))
            self.materials[slug] = node
        self.names.used.update(self.materials)
        for slug, label in (("russia", "Russia"), ("china", "China")):
            self.new_state(slug, label, gazetteer, regions=2)
        russia = self.states[0]
        roadmap = self.entity("rare-earth-roadmap", ("Roadmap",), "Roadmap for rare and rare-earth metals", None,
                              gazetteer)
        self.names.used.add("rare-earth-roadmap")
        self.t(roadmap, _kg("deadline"), _typed("2025-12-01", XSD.date))
        span = self.say(f"The government ordered a roadmap for rare and rare-earth metals, to be overseen by "
                        f"{russia['ministry_label']}.")
        self.t(roadmap, _kg("hasEvidence"), span.evidence)
        self.relation(span, roadmap, _kg("orderedBy"), russia["ministry"],
                      f"Roadmap for rare and rare-earth metals orderedBy {russia['ministry_label']}")
        self.relation(span, roadmap, _kg("overseenBy"), russia["ministry"],
                      f"Roadmap for rare and rare-earth metals overseenBy {russia['ministry_label']}")
        self.relation(span, russia["corporation"], _kg("responsibleFor"), roadmap,
                      f"{russia['corporation_label']} responsibleFor Roadmap for rare and rare-earth metals")
        for _ in self.figures(_Figure(russia["node"], "reserves", "tonne", group), "Russia", "rare-earth-metals",
                              russia["ministry"], russia["ministry_label"], "russian-state-balance", 2):
            pass  # the saved queries' default subject and commodity

    def new_state(self, slug: str | None = None, label: str | None = None, reference: str | None = None,
                  regions: int | None = None) -> None:
        if slug is None or label is None:
            label, slug = self.names.unique(lambda: f"Republic of {self.names.word()}")
        else:
            self.names.used.add(slug)
        state = self.entity(slug, ("State",), label, None, reference or "kgtool synthetic gazetteer")
        info: dict[str, Any] = {"node": state, "label": label, "slug": slug, "regions": []}
        ministry_label, ministry_slug = self.names.unique(lambda: f"Ministry of Natural Resources of {label}")
        span = self.say(f"{ministry_label} keeps the state balance of mineral reserves of {label}.")
        info["ministry"] = self.entity(ministry_slug, ("GovernmentBody",), ministry_label, span)
        info["ministry_label"] = ministry_label
        self.t(info["ministry"], _kg("jurisdiction"), state)
        corp_label, corp_slug = self.names.unique(lambda: f"{self.names.word()}atom State Corporation")
        span = self.say(f"{corp_label}, a state corporation of {label}, answers to the government of {label}.")
        corporation = self.entity(corp_slug, ("StateCorporation",), corp_label, span)
        self.relation(span, corporation, _kg("jurisdiction"), state, f"{corp_label} jurisdiction {label}")
        self.relation(span, corporation, _kg("controlledBy"), state, f"{corp_label} controlledBy {label}")
        info["corporation"], info["corporation_label"] = corporation, corp_label
        for _ in range(regions or self.rng.randint(2, 3)):
            region_label, region_slug = self.names.unique(lambda: f"{self.names.word()} Oblast")
            span = self.say(f"{region_label} is a region of {label}.")
            region = self.entity(region_slug, ("Region",), region_label, span)
            self.relation(span, region, _kg("locatedIn"), state, f"{region_label} locatedIn {label}")
            info["regions"].append((region, region_label))
        self.states.append(info)

    # -- the repeated units

    def firm(self, state: dict[str, Any], parent: str | None, parent_label: str | None) -> tuple[str, str]:
        label, slug = self.names.unique(
            lambda: f"{self.names.word()} {self.rng.choice(_FIRM_WORDS)} {self.rng.choice(_FIRM_FORMS)}")
        since = self.rng.randint(2005, 2023)
        if parent is None:
            span = self.say(f"{label} is a firm registered in {state['label']}.")
        else:
            span = self.say(f"{label}, registered in {state['label']}, has been part of {parent_label} "
                            f"since {since}.")
        node = self.entity(slug, ("Company",), label, span)
        self.relation(span, node, _kg("jurisdiction"), state["node"], f"{label} jurisdiction {state['label']}")
        if parent is not None:
            self.relation(span, node, SUB_ORG, parent, f"{label} subOrganizationOf {parent_label}", start=since)
        self.firms.append(node)
        return node, label

    def steps(self) -> Iterator[None]:
        """Small units of the world, each complete and valid on its own, forever."""
        while True:
            if len(self.states) < 5 or self.rng.random() < 0.08:
                self.new_state()
                yield
            state = self.rng.choice(self.states)
            # a chain of firms below the state corporation, one to three levels deep
            parent, parent_label = state["corporation"], state["corporation_label"]
            chain: list[tuple[str, str]] = []
            for _ in range(self.rng.randint(1, 3)):
                parent, parent_label = self.firm(state, parent, parent_label)
                chain.append((parent, parent_label))
                yield
            # control changes hands: the bottom firm belonged to another group before
            if len(self.firms) > 8 and self.rng.random() < 0.5:
                firm, label = chain[-1]
                old = self.rng.choice(self.firms[:-len(chain)])
                until = self.rng.randint(2010, 2023)
                span = self.say(f"{label} was controlled by another group until {until}, when the state "
                                f"corporation took it over.")
                ended = self.relation(span, firm, _kg("controlledBy"), old, f"{label} controlledBy a former owner",
                                      start=until - self.rng.randint(1, 9), end=until)
                new = self.relation(span, firm, _kg("controlledBy"), chain[-2][0] if len(chain) > 1
                                    else state["corporation"], f"{label} controlledBy its group", start=until)
                self.t(ended, _kg("supersededBy"), new)
                yield
            for _ in range(self.rng.randint(1, 3)):
                yield from self.deposit(state, chain)
            if self.rng.random() < 0.6:
                yield from self.facility(state, chain)
            if self.rng.random() < 0.4:
                yield from self.state_figures(state)
            if self.rng.random() < 0.25 and len(self.states) > 1:
                self.agreement(state)
                yield

    def deposit(self, state: dict[str, Any], chain: list[tuple[str, str]]) -> Iterator[None]:
        if state["slug"] == "russia" and "tomtorskoye" not in self.names.used:
            label, slug = "Tomtorskoye deposit", "tomtorskoye"  # the saved queries' default deposit
            self.names.used.add(slug)
        else:
            label, slug = self.names.unique(lambda: f"{self.names.word()}skoye deposit")
        region, region_label = self.rng.choice(state["regions"])
        commodity = self.rng.choice(("rare-earth-metals", "rare-earth-oxides", "loparite-concentrate"))
        material = self.materials[commodity]
        span = self.say(f"The {label} in {region_label} holds {commodity.replace('-', ' ')}.")
        node = self.entity(slug, ("Deposit",), label, span)
        self.deposits_of(state).append((node, label))
        self.relation(span, node, _kg("locatedIn"), region, f"{label} locatedIn {region_label}")
        self.relation(span, node, _kg("hostsCommodity"), material, f"{label} hostsCommodity {commodity}")
        holder, holder_label = self.rng.choice(chain)
        since = self.rng.randint(2008, 2024)
        if len(self.firms) > 8 and self.rng.random() < 0.35:  # the licence changed hands
            old = self.rng.choice(self.firms[:-len(chain)])
            span = self.say(f"The licence for the {label} was revoked in {since} and awarded to {holder_label}.")
            ended = self.relation(span, old, _kg("holdsLicenceFor"), node, f"a former holder holdsLicenceFor {label}",
                                  start=since - self.rng.randint(2, 12), end=since)
            new = self.relation(span, holder, _kg("holdsLicenceFor"), node, f"{holder_label} holdsLicenceFor {label}",
                                start=since)
            self.t(ended, _kg("supersededBy"), new)
        else:
            span = self.say(f"{holder_label} has held the licence for the {label} since {since}.")
            self.relation(span, holder, _kg("holdsLicenceFor"), node, f"{holder_label} holdsLicenceFor {label}",
                          start=since)
        yield
        agent = state["ministry"]
        classification = "russian-state-balance" if state["slug"] == "russia" else "unknown-system"
        yield from self.figures(_Figure(node, "reserves", "tonne", material), label, commodity, agent,
                                state["ministry_label"], classification, self.rng.randint(1, 3))
        if self.rng.random() < 0.5:
            yield from self.figures(_Figure(node, "production", "tonne-per-year", material), label, commodity,
                                    agent, state["ministry_label"], None, 1)

    def figures(self, figure: _Figure, subject_label: str, commodity: str | None, agent: str, agent_label: str,
                classification: str | None, how_many: int) -> Iterator[None]:
        """Figures for one key (subject, measure, unit, commodity), each for a year of its own. Now and then
        a second source gives another value for the same year (a conflict: both claims say kg:conflictsWith),
        or another agent does (a difference: no conflict)."""
        key = (figure.subject, figure.measure, figure.unit, figure.commodity)
        years = self.figure_years.setdefault(key, set())
        for _ in range(how_many):
            year = self.rng.randint(2008, 2023)
            if year in years:
                continue
            years.add(year)
            claim, value = self.figure(figure, subject_label, commodity, agent, agent_label, classification,
                                       str(year))
            roll = self.rng.random()
            if roll < 0.06:
                as_of = str(year) if self.rng.random() < 0.5 else f"{year}-{self.rng.randint(1, 12):02d}"
                other, _ = self.figure(figure, subject_label, commodity, agent, agent_label, classification, as_of,
                                       avoid=value)
                self.conflict(claim, other)
            elif roll < 0.09:
                other_state = self.rng.choice(self.states)
                if other_state["ministry"] != agent:
                    self.figure(figure, subject_label, commodity, other_state["ministry"],
                                other_state["ministry_label"], classification, str(year))
            yield

    def figure(self, figure: _Figure, subject_label: str, commodity: str | None, agent: str, agent_label: str,
               classification: str | None, as_of: str, avoid: Decimal | None = None) -> tuple[str, Decimal]:
        value, stated, qualifier = self.amount(figure.unit)
        while value == avoid:
            value, stated, qualifier = self.amount(figure.unit)
        what = figure.measure.replace("-", " ")
        of = f" of {commodity.replace('-', ' ')}" if commodity else ""
        span = self.say(f"{agent_label} put the {what}{of} of {subject_label} at {stated} as of {as_of}.")
        claim = self.quantity(span, figure, value, stated, qualifier=_kgv(qualifier), as_of=as_of, agent=agent,
                              label=f"{subject_label}: {what}{of} {stated}, {agent_label}, {as_of}",
                              classification=classification)
        return claim, value

    def amount(self, unit: str) -> tuple[Decimal, str, str]:
        if unit == "percent":
            share = self.rng.randint(1, 95)
            return Decimal(share), f"about {share}%", "approximately"
        if self.rng.random() < 0.5:
            tenths = self.rng.randint(11, 999)
            value = Decimal(tenths) / 10
            suffix = " tonnes per year" if unit == "tonne-per-year" else " tonnes"
            return value * 1_000_000, f"{value} million{suffix}", "exactly"
        number = self.rng.randint(100, 99_000)
        suffix = " tonnes per year" if unit == "tonne-per-year" else " tonnes"
        return Decimal(number), f"{number:,}{suffix}", "exactly"

    def facility(self, state: dict[str, Any], chain: list[tuple[str, str]]) -> Iterator[None]:
        region, region_label = self.rng.choice(state["regions"])
        controller, controller_label = self.rng.choice(chain)
        if self.rng.random() < 0.3:
            label, slug = self.names.unique(lambda: f"{self.names.word()} Magnet Plant")
            span = self.say(f"The {label} in {region_label}, owned by {controller_label}, makes rare-earth "
                            f"permanent magnets.")
            node = self.entity(slug, ("MagnetPlant",), label, span)
            self.relation(span, node, _kg("locatedIn"), region, f"{label} locatedIn {region_label}")
            self.relation(span, node, _kg("produces"), self.materials["rare-earth-magnets"],
                          f"{label} produces rare-earth permanent magnets")
            self.relation(span, controller, _kg("owns"), node, f"{controller_label} owns {label}")
            yield
            return
        label, slug = self.names.unique(lambda: f"{self.names.word()} Processing Plant")
        span = self.say(f"The {label} in {region_label}, controlled by {controller_label}, processes loparite "
                        f"concentrate into rare-earth metals.")
        node = self.entity(slug, ("ProcessingPlant",), label, span)
        self.relation(span, node, _kg("locatedIn"), region, f"{label} locatedIn {region_label}")
        self.relation(span, node, _kg("processes"), self.materials["loparite-concentrate"],
                      f"{label} processes loparite concentrate")
        self.relation(span, node, _kg("produces"), self.materials["rare-earth-metals"],
                      f"{label} produces rare-earth metals")
        self.relation(span, node, _kg("controlledBy"), controller, f"{label} controlledBy {controller_label}")
        yield
        yield from self.figures(_Figure(node, "processing-volume", "tonne-per-year", self.materials["loparite-concentrate"]),
                     label, "loparite-concentrate", state["ministry"], state["ministry_label"], None, 1)

    def state_figures(self, state: dict[str, Any]) -> Iterator[None]:
        rem = self.materials["rare-earth-metals"]
        yield from self.figures(_Figure(state["node"], "reserves", "tonne", rem), state["label"], "rare-earth-metals",
                                state["ministry"], state["ministry_label"],
                                "russian-state-balance" if state["slug"] == "russia" else "unknown-system", 1)
        yield from self.figures(_Figure(state["node"], "production-share", "percent", rem), state["label"],
                                "rare-earth-metals", state["ministry"], state["ministry_label"], None, 1)

    def agreement(self, state: dict[str, Any]) -> None:
        deposits = [d for d in self.deposits_of(state)]
        if not deposits:
            return
        deposit, deposit_label = self.rng.choice(deposits)
        foreign_state = self.rng.choice([s for s in self.states if s is not state])
        foreign, foreign_label = self.firm(foreign_state, None, None)
        label, slug = self.names.unique(lambda: f"{foreign_label} agreement on the {deposit_label}")
        span = self.say(f"{foreign_label} and {state['corporation_label']} signed an agreement on the "
                        f"{deposit_label}.")
        node = self.entity(slug, ("Agreement",), label, span)
        self.relation(span, node, _kg("party"), foreign, f"{label} party {foreign_label}")
        self.relation(span, node, _kg("party"), state["corporation"], f"{label} party {state['corporation_label']}")
        self.relation(span, node, _kg("concernsDeposit"), deposit, f"{label} concernsDeposit {deposit_label}")

    def deposits_of(self, state: dict[str, Any]) -> list[tuple[str, str]]:
        deposits: list[tuple[str, str]] = state.setdefault("deposits", [])
        return deposits

    # -- planted violations

    def planted(self, per_kind: int) -> None:
        russia = self.states[0]
        rem = self.materials["rare-earth-metals"]
        year = 1990

        def next_year() -> str:
            nonlocal year
            year += 1
            return str(year)

        for _ in range(per_kind):
            # a figure with no unit
            span = self.say(f"{russia['ministry_label']} counted 120 rare-earth projects.")
            claim = self.quantity(span, _Figure(russia["node"], "count", "item", None), Decimal(120), "120",
                                  qualifier=_kgv("exactly"), as_of=next_year(), agent=russia["ministry"],
                                  label="Russia: count 120", unit_missing=True)
            self.plant("missing-unit", claim, KG.unit, "MinCountConstraintComponent", SH.Violation,
                       "QuantitativeClaimShape-unit")
            # a qualifier outside the closed list
            span = self.say("Investment in rare-earth metals reached roughly 2 billion dollars.")
            claim = self.quantity(span, _Figure(russia["node"], "investment", "usd", rem), Decimal(2_000_000_000),
                                  "roughly 2 billion dollars", qualifier=_kgv("roughly"), as_of=next_year(),
                                  agent=None, label="Russia: investment roughly 2 billion dollars")
            self.plant("value-not-in-list", claim, KG.qualifier, "InConstraintComponent", SH.Violation,
                       "QuantitativeClaimShape-qualifier", KGV.roughly)
            # a percentage over 100
            span = self.say("Its share of imports was put at 140% by one source.")
            claim = self.quantity(span, _Figure(russia["node"], "import-share", "percent", rem), Decimal(140),
                                  "140%", qualifier=_kgv("exactly"), as_of=next_year(), agent=None,
                                  label="Russia: import share 140%")
            self.plant("percentage-over-100", claim, KG.value, "SPARQLConstraintComponent", SH.Violation,
                       "QuantitativeClaimShape-share", Literal("140.0", datatype=XSD.decimal))
            # a figure as of a year after its source document's date, with no hedge
            document = self.current()
            later = str(document.year + 2)
            span = self.say(f"Output of rare-earth metals will be 9,000 tonnes in {later}.")
            claim = self.quantity(span, _Figure(russia["node"], "production", "tonne-per-year", rem), Decimal(9000),
                                  "9,000 tonnes", qualifier=_kgv("exactly"), as_of=later, agent=None,
                                  label=f"Russia: production 9,000 tonnes, {later}")
            self.plant("as-of-after-source", claim, KG.asOf, "SPARQLConstraintComponent", SH.Violation,
                       "ClaimAsOfShape-notAfterSource", Literal(later, datatype=XSD.gYear))
            # a quote that is not the text at its positions
            sentence = "The ministry put reserves of loparite concentrate at 51.5 million tonnes."
            span = self.say(sentence, exact=sentence.replace("51.5", "57.5"))
            claim = self.quantity(span, _Figure(russia["node"], "reserves", "tonne",
                                                self.materials["loparite-concentrate"]),
                                  Decimal(51_500_000), "51.5 million tonnes", qualifier=_kgv("exactly"),
                                  as_of=next_year(), agent=None, classification="russian-state-balance",
                                  label="Russia: reserves of loparite concentrate 51.5 million tonnes")
            self.plant("evidence-quote-mismatch", span.evidence, OA.hasSelector, "SPARQLConstraintComponent",
                       SH.Violation, "EvidenceShape-exact", URIRef(span.evidence[1:-1] + "-quote"))
            # a position typed xsd:integer instead of xsd:nonNegativeInteger
            span = self.say("Rare-earth oxides made up 3,100 tonnes of output.", integer_start=True)
            self.quantity(span, _Figure(russia["node"], "production", "tonne-per-year",
                                        self.materials["rare-earth-oxides"]), Decimal(3100), "3,100 tonnes",
                          qualifier=_kgv("exactly"), as_of=next_year(), agent=None,
                          label="Russia: production of rare-earth oxides 3,100 tonnes")
            position = URIRef(span.evidence[1:-1] + "-position")
            self.violations.append(PlantedViolation(
                "position-not-non-negative-integer", position, OA.start, SH.DatatypeConstraintComponent, SH.Violation,
                KGSH["TextPositionSelectorShape-start"], Literal(str(span.start), datatype=XSD.integer)))
            # a relation that ends before it starts
            firm, label = self.firm(russia, None, None)
            span = self.say(f"{label} was run by {russia['corporation_label']} from 2021 to 2018.")
            claim = self.relation(span, firm, _kg("controlledBy"), russia["corporation"],
                                  f"{label} controlledBy {russia['corporation_label']}", start=2021, end=2018)
            self.plant("end-before-start", claim, KG.endTime, "SPARQLConstraintComponent", SH.Violation,
                       "RelationIntervalShape-endNotBeforeStart", Literal("2018", datatype=XSD.gYear))
            # a claim label with no language tag (a warning)
            span = self.say(f"{label} operates in {russia['label']}.")
            claim = self.relation(span, firm, _kg("jurisdiction"), russia["node"], "",
                                  label_literal=_str(f"{label} jurisdiction {russia['label']}"), direct=False)
            self.plant("label-without-language", claim, RDFS.label, "DatatypeConstraintComponent", SH.Warning,
                       "ClaimShape-label")
            # a firm with no known jurisdiction (an info)
            unknown_label, unknown_slug = self.names.unique(lambda: f"{self.names.word()} Trading Ltd")
            span = self.say(f"{unknown_label} bought concentrate from {label}.")
            unknown = self.entity(unknown_slug, ("Company",), unknown_label, span)
            self.plant("firm-without-jurisdiction", unknown, KG.jurisdiction, "MinCountConstraintComponent", SH.Info,
                       "CompanyShape-jurisdiction")
            # two firms that control each other
            first, first_label = self.firm(russia, None, None)
            second, second_label = self.firm(russia, first, first_label)
            span = self.say(f"{first_label} is itself a subsidiary of {second_label}.")
            self.relation(span, first, SUB_ORG, second, f"{first_label} subOrganizationOf {second_label}", start=2020)
            for node in (first, second):
                self.plant("control-cycle", node, None, "SPARQLConstraintComponent", SH.Violation, "ControlShape",
                           URIRef(node[1:-1]))

    # -- the whole graph

    def run(self) -> SynthManifest:
        per_kind = 1 + self.target // 250_000
        self.ontology()
        self.elements(per_kind)
        # outlets exist before the first document opens
        self.anchors()
        self.planted(per_kind)
        fixed = self.count + self.pending()
        if fixed > self.target * 1.05:
            raise BadInputError(f"a synthetic graph has at least about {fixed} triples (ontology, elements, anchors and "
                             f"planted violations); ask for {max(MIN_TRIPLES, fixed)} or more")
        for _ in self.steps():
            if self.count + self.pending() >= self.target:
                break
        self.close_document()
        for state in self.states:
            self.tally("State-regions", len(state["regions"]))
        return SynthManifest(self.target, self.seed, self.count, tuple(self.violations), self.conflicts,
                             dict(self.counts))


def _run(sink: Callable[[str], None], triples: int, seed: int, project: Project | None) -> SynthManifest:
    if triples < MIN_TRIPLES:
        raise BadInputError(f"a synthetic graph has at least {MIN_TRIPLES} triples (the ontology alone has about 1,100)")
    generator = _Generator(sink, triples, seed, project or find_project())
    return generator.run()


def write_synth(path: Path, triples: int, seed: int, *, project: Project | None = None,
                manifest_path: Path | None = None) -> SynthManifest:
    """Stream a synthetic graph to `path` as N-Triples (deterministic order, one triple per line; N-Triples
    is also valid Turtle), and its manifest to `manifest_path` as JSON when given. Both are written
    atomically (rdfio.atomic_output): a process killed at any moment leaves the old file or the new one."""
    with atomic_output(path) as stream:
        write, flush = _writer(stream)
        manifest = _run(write, triples, seed, project)
        flush()
    if manifest_path is not None:
        write_atomic(manifest_path, (json.dumps(manifest.to_json(), indent=2) + "\n").encode("utf-8"))
    return manifest


def _writer(stream: IO[bytes], lines: int = 8192) -> tuple[Callable[[str], None], Callable[[], None]]:
    """A sink that writes lines to a binary stream as UTF-8, `lines` at a time, and its flush."""
    pending: list[str] = []

    def flush() -> None:
        if pending:
            stream.write("".join(pending).encode("utf-8"))
            pending.clear()

    def write(line: str) -> None:
        pending.append(line)
        if len(pending) >= lines:
            flush()

    return write, flush


def synth_ntriples(triples: int, seed: int, *, project: Project | None = None) -> tuple[str, SynthManifest]:
    """The synthetic graph as N-Triples text, with its manifest."""
    lines: list[str] = []
    manifest = _run(lines.append, triples, seed, project)
    return "".join(lines), manifest


def synth(triples: int, seed: int, *, project: Project | None = None) -> SynthResult:
    """A synthetic graph of about `triples` triples (within 5%) as an rdflib graph, with its manifest."""
    text, manifest = synth_ntriples(triples, seed, project=project)
    graph = new_graph()
    graph.parse(data=text, format="nt")
    return SynthResult(graph, manifest)


__all__ = ["MIN_TRIPLES", "PlantedViolation", "SynthManifest", "SynthResult", "synth", "synth_ntriples",
           "write_synth"]
