"""An ontology and graph linter in the spirit of ROBOT `report`: labels, definitions, declarations,
domains and ranges, typing, deprecation and namespaces, each a check with an id and a level.

`lint(ontology, data, shapes)` takes the ontology (TBox and code lists), the data graph (the built
graph, which holds the ontology too) and the SHACL shapes graph (may be empty). What counts as
*use in the data* is the data triples that are not ontology triples and not OWL/RDFS axioms, so the
ontology's own declarations, its blank-node axioms and their rdf:List cells never count as use.

Which checks run, and at which level, comes from `lint.yaml` (`load_lint_config`).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .curated import LINE, read_yaml
from .errors import BadInputError
from .namespaces import DCTERMS, KG, KGCLAIM, KGDOC, KGEV, KGR, KGV, ONTOLOGY_IRI, OWL, PREFIXES, RDF, RDFS, SKOS, XSD


class Level(str, Enum):
    """How serious a finding is: ERROR and WARN fail a lint run, INFO never does."""

    ERROR = "ERROR"
    WARN = "WARN"
    INFO = "INFO"


_LEVEL_ORDER = {Level.ERROR: 0, Level.WARN: 1, Level.INFO: 2}


@dataclass(frozen=True)
class LintFinding:
    """One problem: which check found it, how serious it is, about which term, in words."""

    level: Level
    check: str
    subject: URIRef
    message: str

    def __str__(self) -> str:
        return f"{self.level.value} {self.check}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    """Every finding of one lint run, sorted by level, check, subject and message."""

    findings: tuple[LintFinding, ...]

    def count(self, level: Level) -> int:
        return sum(1 for finding in self.findings if finding.level is level)

    def fails(self) -> bool:
        """Any ERROR or WARN fails; INFO findings are for reading only."""
        return any(finding.level is not Level.INFO for finding in self.findings)

    def of(self, check: str) -> tuple[LintFinding, ...]:
        """The findings of one check."""
        return tuple(finding for finding in self.findings if finding.check == check)


@dataclass(frozen=True)
class Check:
    """A check's id, default level and what it looks for."""

    id: str
    level: Level
    description: str


CHECKS: tuple[Check, ...] = (
    Check("missing-label", Level.ERROR, "a kg:/kgv: class, property, code list or concept without rdfs:label"),
    Check("missing-definition", Level.ERROR, "a kg: class or property without skos:definition"),
    Check("duplicate-label", Level.WARN,
          "two terms, or two individuals of the same class, share a label (case-insensitive, same language)"),
    Check("undeclared-property", Level.ERROR,
          "a predicate in the data that the ontology does not declare and that is not an RDF/RDFS/OWL built-in"),
    Check("unused-term", Level.INFO, "a kg: class or property neither used in the data nor referenced by a shape"),
    Check("domain-violation", Level.WARN, "a typed subject that is not an instance of the property's rdfs:domain"),
    Check("range-violation", Level.WARN,
          "a typed object, or a literal, that does not fit the property's rdfs:range"),
    Check("untyped-individual", Level.WARN, "a kgr:, kgclaim:, kgev: or kgdoc: IRI used as a subject with no rdf:type"),
    Check("deprecated-used", Level.ERROR, "a term marked owl:deprecated true that the data uses"),
    Check("unknown-namespace", Level.WARN,
          "an IRI outside the project's namespaces and the known vocabularies (as predicate, type or object)"),
)
CHECK_IDS: tuple[str, ...] = tuple(check.id for check in CHECKS)


@dataclass(frozen=True)
class CheckSetting:
    """Whether a check runs, and the level of its findings."""

    enabled: bool
    level: Level


@dataclass(frozen=True)
class LintConfig:
    """A setting for every check id; checks not named get their defaults."""

    settings: Mapping[str, CheckSetting] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.settings) - set(CHECK_IDS))
        if unknown:
            raise ValueError(f"unknown lint check id(s): {', '.join(unknown)}")
        full = {check.id: self.settings.get(check.id, CheckSetting(True, check.level)) for check in CHECKS}
        object.__setattr__(self, "settings", MappingProxyType(full))

    def enabled(self, check: str) -> bool:
        return self.settings[check].enabled

    def level(self, check: str) -> Level:
        return self.settings[check].level

    def with_check(self, check: str, *, enabled: bool | None = None, level: Level | None = None) -> LintConfig:
        """A copy with one check's setting changed."""
        old = self.settings[check]
        new = CheckSetting(old.enabled if enabled is None else enabled, old.level if level is None else level)
        return LintConfig({**self.settings, check: new})


DEFAULT_CONFIG = LintConfig()

#################################################################
# lint.yaml
#################################################################

_CHECK_KEYS = {"id", "enabled", "level"}


def _key_line(lines: list[str], start: int, key: str) -> int:
    """The line (1-based) where `key:` is written in the list item that starts at line `start`."""
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*:")
    for number in range(start, len(lines) + 1):
        text = lines[number - 1]
        if number > start and re.match(r"^\s*-\s", text):
            break
        if pattern.search(text):
            return number
    return start


def load_lint_config(path: Path) -> LintConfig:
    """Read lint.yaml: `checks:` is a list of `{id, enabled, level}`; unknown ids or levels are bad input."""
    data = read_yaml(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    top_line = int(data.get(LINE, 1))
    unknown_top = sorted(set(data) - {"checks", LINE})
    if unknown_top:
        raise BadInputError(f"unknown field(s) {', '.join(unknown_top)}", path=path,
                            line=_key_line(lines, top_line, unknown_top[0]), hint="the file holds one list, 'checks'")
    items = data.get("checks") or []
    if not isinstance(items, list):
        raise BadInputError("'checks' must be a list of {id, enabled, level}", path=path,
                            line=_key_line(lines, top_line, "checks"))
    settings: dict[str, CheckSetting] = {}
    seen: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            raise BadInputError(f"each check must be a mapping with 'id', 'enabled' and 'level', got {item!r}",
                                path=path, line=top_line)
        line = int(item.get(LINE, top_line))
        unknown = sorted(set(item) - _CHECK_KEYS - {LINE})
        if unknown:
            raise BadInputError(f"unknown field(s) {', '.join(unknown)} in a check", path=path,
                                line=_key_line(lines, line, unknown[0]), hint="allowed: enabled, id, level")
        check_id = item.get("id")
        if check_id is None:
            raise BadInputError("a check without 'id'", path=path, line=line,
                                hint=f"known checks: {', '.join(CHECK_IDS)}")
        if not isinstance(check_id, str) or check_id not in CHECK_IDS:
            raise BadInputError(f"unknown lint check id {check_id!r}", path=path, line=_key_line(lines, line, "id"),
                                hint=f"known checks: {', '.join(CHECK_IDS)}")
        if check_id in seen:
            raise BadInputError(f"check {check_id!r} is configured twice (first at line {seen[check_id]})",
                                path=path, line=line)
        seen[check_id] = line
        default = DEFAULT_CONFIG.settings[check_id]
        enabled = item.get("enabled", default.enabled)
        if not isinstance(enabled, bool):
            raise BadInputError(f"check {check_id}: 'enabled' must be true or false, got {enabled!r}", path=path,
                                line=_key_line(lines, line, "enabled"))
        raw_level = item.get("level", default.level.value)
        level = next((lv for lv in Level if isinstance(raw_level, str) and raw_level.upper() == lv.value), None)
        if level is None:
            raise BadInputError(f"check {check_id}: unknown level {raw_level!r}", path=path,
                                line=_key_line(lines, line, "level"), hint="levels: ERROR, WARN, INFO")
        settings[check_id] = CheckSetting(enabled, level)
    return LintConfig(settings)


#################################################################
# Vocabulary the checks rely on
#################################################################

PROJECT_NAMESPACES: tuple[str, ...] = tuple(PREFIXES.values())
# Well-known vocabularies an IRI may come from without being flagged. Small on purpose: add a
# namespace here when the graph starts to use it deliberately.
KNOWN_VOCABULARIES: tuple[str, ...] = (
    "http://qudt.org/schema/qudt/",            # QUDT schema
    "http://qudt.org/vocab/unit/",             # QUDT units
    "http://qudt.org/vocab/quantitykind/",     # QUDT quantity kinds
    "http://schema.org/",                      # schema.org
    "https://schema.org/",
    "http://www.wikidata.org/entity/",         # Wikidata items (Q...) and properties (P...)
    "http://www.wikidata.org/prop/direct/",
    "http://www.w3.org/ns/shacl#",             # SHACL
    "http://www.w3.org/2006/time#",            # OWL-Time
    "http://xmlns.com/foaf/0.1/",              # FOAF
    "http://purl.org/dc/elements/1.1/",        # Dublin Core elements
    "http://purl.org/dc/dcmitype/",            # DCMI types
    "http://www.w3.org/ns/dcat#",              # DCAT
    "https://sws.geonames.org/",               # GeoNames features
)
# Objects of these properties are links to documents (a licence, a web page), not vocabulary terms.
LINK_PROPERTIES = frozenset({DCTERMS.license, DCTERMS.rights, RDFS.seeAlso})
INSTANCE_NAMESPACES: tuple[str, ...] = (str(KGR), str(KGCLAIM), str(KGEV), str(KGDOC))
BUILTIN_NAMESPACES = (RDF, RDFS, OWL)
PROPERTY_KINDS = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
_TERM_CLASS_KINDS = (OWL.Class, RDFS.Class)
_TERM_PROPERTY_KINDS = (*PROPERTY_KINDS, RDF.Property, OWL.FunctionalProperty, OWL.InverseFunctionalProperty,
                        OWL.TransitiveProperty, OWL.SymmetricProperty, OWL.AsymmetricProperty,
                        OWL.ReflexiveProperty, OWL.IrreflexiveProperty)
# Triples with these predicates are axioms or list cells, never use of a term in the data.
_AXIOM_PREDICATES = frozenset({RDF.first, RDF.rest})
_TOP = frozenset({OWL.Thing, RDFS.Resource})
# XSD built-in datatype derivation (child -> parent), for literals against a datatype range.
_XSD_PARENT: dict[URIRef, URIRef] = {
    XSD.integer: XSD.decimal, XSD.nonPositiveInteger: XSD.integer, XSD.negativeInteger: XSD.nonPositiveInteger,
    XSD.long: XSD.integer, XSD.int: XSD.long, XSD.short: XSD.int, XSD.byte: XSD.short,
    XSD.nonNegativeInteger: XSD.integer, XSD.unsignedLong: XSD.nonNegativeInteger,
    XSD.unsignedInt: XSD.unsignedLong, XSD.unsignedShort: XSD.unsignedInt, XSD.unsignedByte: XSD.unsignedShort,
    XSD.positiveInteger: XSD.nonNegativeInteger, XSD.normalizedString: XSD.string, XSD.token: XSD.normalizedString,
    XSD.language: XSD.token, XSD.Name: XSD.token, XSD.NCName: XSD.Name, XSD.NMTOKEN: XSD.token,
    XSD.dateTimeStamp: XSD.dateTime, XSD.dayTimeDuration: XSD.duration, XSD.yearMonthDuration: XSD.duration,
}
_LITERAL_TYPES = frozenset({RDFS.Literal, RDF.langString, RDF.PlainLiteral, RDF.XMLLiteral, RDF.HTML, RDF.JSON})


def _in(iri: Node, namespaces: Iterable[str]) -> bool:
    return isinstance(iri, URIRef) and any(str(iri).startswith(ns) for ns in namespaces)


def _is_builtin_property(iri: URIRef) -> bool:
    """An RDF, RDFS or OWL property (rdf:type, rdfs:label, owl:sameAs, rdf:_1 ...), not a class."""
    for namespace in BUILTIN_NAMESPACES:
        base = str(namespace)
        if str(iri).startswith(base) and iri in namespace:
            local = str(iri)[len(base):]
            return bool(local) and (local[0].islower() or local[0] == "_")
    return False


def _is_datatype(node: Node, declared: set[Node]) -> bool:
    return node in _LITERAL_TYPES or node in declared or (isinstance(node, URIRef) and str(node).startswith(str(XSD)))


def _literal_fits(literal: Literal, datatype: Node) -> str | None:
    """None if the literal is a value of the datatype, else why not."""
    if datatype == RDFS.Literal:
        return None
    if datatype == RDF.langString:
        return None if literal.language else "has no language tag"
    if datatype == RDF.PlainLiteral and literal.datatype is None:
        return None
    actual = literal.datatype
    if datatype == XSD.string and (actual is None or literal.language):
        return None
    if actual is None:
        actual = RDF.langString if literal.language else XSD.string
    ancestor: URIRef | None = actual
    while ancestor is not None and ancestor != datatype:
        ancestor = _XSD_PARENT.get(ancestor)
    if ancestor is None:
        return f"is a {_curie(actual)}"
    if getattr(literal, "ill_typed", False):
        return f"is not a valid {_curie(actual)}"
    return None


#################################################################
# Naming terms in messages
#################################################################

_SORTED_PREFIXES = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))


def _curie(node: Node) -> str:
    if isinstance(node, URIRef):
        text = str(node)
        for prefix, namespace in _SORTED_PREFIXES:
            if text.startswith(namespace) and len(text) > len(namespace):
                local = text[len(namespace):]
                if re.fullmatch(r"[A-Za-z0-9_][\w.-]*", local) and not local.endswith("."):
                    return f"{prefix}:{local}"
        return f"<{text}>"
    if isinstance(node, Literal):
        text = str(node)
        shown = text if len(text) <= 60 else text[:57] + "..."
        value = '"' + shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        if node.language:
            return f"{value}@{node.language}"
        if node.datatype is not None:
            return f"{value}^^{_curie(node.datatype)}"
        return value
    return "[]"


#################################################################
# The linter
#################################################################


class _Facts:
    """What the checks need, computed once from the three graphs."""

    def __init__(self, ontology: Graph, data: Graph, shapes: Graph) -> None:
        self.ontology = ontology
        self.data = data
        self.shapes = shapes
        both = (ontology, data)
        self.labels: dict[Node, list[Literal]] = defaultdict(list)
        for graph in both:
            for s, o in graph.subject_objects(RDFS.label):
                if isinstance(o, Literal) and o not in self.labels[s]:
                    self.labels[s].append(o)
        self.types: dict[Node, set[Node]] = defaultdict(set)
        for graph in both:
            for s, o in graph.subject_objects(RDF.type):
                self.types[s].add(o)
        self.super_classes = self._closure(both, (RDFS.subClassOf,), (OWL.equivalentClass,))
        self.super_properties = self._closure(both, (RDFS.subPropertyOf,), (OWL.equivalentProperty,))
        self.sub_classes = _invert(self.super_classes)
        self.sub_properties = _invert(self.super_properties)
        self.classes: set[URIRef] = {s for kind in _TERM_CLASS_KINDS for s in ontology.subjects(RDF.type, kind)
                                     if isinstance(s, URIRef)}
        self.properties: set[URIRef] = {s for kind in _TERM_PROPERTY_KINDS for s in ontology.subjects(RDF.type, kind)
                                        if isinstance(s, URIRef)}
        concept_classes = {SKOS.Concept, *self.sub_classes.get(SKOS.Concept, ())}
        self.concepts: set[URIRef] = {s for c in concept_classes for s in ontology.subjects(RDF.type, c)
                                      if isinstance(s, URIRef)}
        self.schemes: set[URIRef] = {s for s in ontology.subjects(RDF.type, SKOS.ConceptScheme)
                                     if isinstance(s, URIRef)}
        self.terms = self.classes | self.properties | self.concepts | self.schemes
        self.datatypes: set[Node] = set(ontology.subjects(RDF.type, RDFS.Datatype))
        # Use in the data: triples of the data graph that are not ontology triples nor axioms.
        self.triples: list[tuple[Node, Node, Node]] = list(data)
        ontology_triples = set(ontology)
        self.use: list[tuple[Node, Node, Node]] = [
            triple for triple in self.triples
            if triple not in ontology_triples and not _is_axiom(triple[1])]

    @staticmethod
    def _closure(graphs: tuple[Graph, ...], directed: tuple[URIRef, ...],
                 mutual: tuple[URIRef, ...]) -> dict[Node, frozenset[Node]]:
        """Each node's strict ancestors along `directed` (and both ways along `mutual`), IRIs only."""
        parents: dict[Node, set[Node]] = defaultdict(set)
        for graph in graphs:
            for predicate in directed:
                for s, o in graph.subject_objects(predicate):
                    if isinstance(s, URIRef) and isinstance(o, URIRef):
                        parents[s].add(o)
            for predicate in mutual:
                for s, o in graph.subject_objects(predicate):
                    if isinstance(s, URIRef) and isinstance(o, URIRef):
                        parents[s].add(o)
                        parents[o].add(s)
        result: dict[Node, frozenset[Node]] = {}
        for start in list(parents):
            seen: set[Node] = set()
            stack = list(parents[start])
            while stack:
                node = stack.pop()
                if node not in seen:
                    seen.add(node)
                    stack.extend(parents.get(node, ()))
            seen.discard(start)
            result[start] = frozenset(seen)
        return result

    def label(self, node: Node) -> Literal | None:
        labels = self.labels.get(node) or []
        for wanted in ("en", None):
            for literal in sorted(labels):
                if literal.language == wanted and str(literal).strip():
                    return literal
        return next((literal for literal in sorted(labels) if str(literal).strip()), None)

    def name(self, node: Node) -> str:
        """`"label" (prefix:local)`, or just the prefixed IRI when there is no label."""
        label = self.label(node)
        return f'"{label}" ({_curie(node)})' if label is not None else _curie(node)

    def closure_of_types(self, node: Node) -> set[Node]:
        types = self.types.get(node, set())
        result = set(types)
        for t in types:
            result |= self.super_classes.get(t, frozenset())
        return result

    def members(self, node: Node) -> list[Node] | None:
        """A class expression as the IRIs any of which satisfies it: itself, or an owl:unionOf's members."""
        if isinstance(node, URIRef):
            return [node]
        union = self.ontology.value(node, OWL.unionOf)
        if union is None:
            return None
        items = list(self.ontology.items(union))
        return items if all(isinstance(item, URIRef) for item in items) else None


def _invert(closure: dict[Node, frozenset[Node]]) -> dict[Node, set[Node]]:
    inverted: dict[Node, set[Node]] = defaultdict(set)
    for node, ancestors in closure.items():
        for ancestor in ancestors:
            inverted[ancestor].add(node)
    return inverted


@lru_cache(maxsize=4096)
def _is_axiom(predicate: Node) -> bool:
    """Schema and list predicates (rdfs:subClassOf, owl:members, rdf:first ...), which state axioms, not data."""
    if predicate in _AXIOM_PREDICATES:
        return True
    if predicate in (RDFS.label, RDFS.comment, RDFS.seeAlso, RDFS.isDefinedBy, RDF.type):
        return False
    return isinstance(predicate, URIRef) and (str(predicate).startswith(str(RDFS)) or str(predicate).startswith(str(OWL)))


def _triple(s: Node, p: Node, o: Node) -> str:
    return f"{_curie(s)} {_curie(p)} {_curie(o)}"


_Raw = tuple[URIRef, str]  # subject, message


def _has_text(graph: Graph, term: URIRef, predicate: URIRef) -> bool:
    return any(str(value).strip() for value in graph.objects(term, predicate))


def _missing_label(facts: _Facts) -> Iterator[_Raw]:
    for term in facts.terms:
        if _in(term, (str(KG), str(KGV))) and not _has_text(facts.ontology, term, RDFS.label):
            yield term, f"{_kind(facts, term)} {_curie(term)} has no rdfs:label"


def _missing_definition(facts: _Facts) -> Iterator[_Raw]:
    for term in facts.classes | facts.properties:
        if _in(term, (str(KG),)) and not _has_text(facts.ontology, term, SKOS.definition):
            yield term, f"{_kind(facts, term)} {facts.name(term)} has no skos:definition"


def _kind(facts: _Facts, term: URIRef) -> str:
    if term in facts.classes:
        return "class"
    if term in facts.properties:
        return "property"
    if term in facts.schemes:
        return "code list"
    return "concept"


def _label_key(literal: Literal) -> tuple[str, str]:
    return " ".join(str(literal).split()).casefold(), (literal.language or "").lower()


def _duplicate_label(facts: _Facts) -> Iterator[_Raw]:
    by_label: dict[tuple[str, str], set[URIRef]] = defaultdict(set)
    shown: dict[tuple[str, str], Literal] = {}
    for term in facts.terms:
        for literal in facts.ontology.objects(term, RDFS.label):
            if isinstance(literal, Literal) and str(literal).strip():
                key = _label_key(literal)
                by_label[key].add(term)
                shown.setdefault(key, literal)
    for key, terms in by_label.items():
        if len(terms) > 1:
            for term in terms:
                others = ", ".join(sorted(_curie(t) for t in terms if t != term))
                yield term, f"{_kind(facts, term)} {facts.name(term)} shares its label {_curie(shown[key])} with {others}"
    # Individuals: two of the same asserted class with one label.
    individuals: dict[tuple[str, str], set[URIRef]] = defaultdict(set)
    for subject, literals in facts.labels.items():
        if not isinstance(subject, URIRef) or subject in facts.terms or not facts.types.get(subject):
            continue
        if (subject, RDF.type, OWL.Ontology) in facts.data:
            continue
        for literal in literals:
            if str(literal).strip():
                key = _label_key(literal)
                individuals[key].add(subject)
    for key, group in individuals.items():
        if len(group) < 2:
            continue
        for subject in group:
            mine = facts.types[subject]
            same_class = sorted((other for other in group if other != subject and mine & facts.types[other]), key=str)
            if same_class:
                shared = sorted({_curie(t) for other in same_class for t in mine & facts.types[other]})
                yield subject, (f"{facts.name(subject)} shares its label with "
                                f"{', '.join(_curie(other) for other in same_class)}, also a {', '.join(shared)}")


def _undeclared_property(facts: _Facts) -> Iterator[_Raw]:
    uses: dict[URIRef, list[tuple[Node, Node, Node]]] = defaultdict(list)
    for s, p, o in facts.triples:
        if isinstance(p, URIRef):
            uses[p].append((s, p, o))
    for prop, triples in uses.items():
        if _is_builtin_property(prop) or any((prop, RDF.type, kind) in facts.ontology for kind in PROPERTY_KINDS):
            continue
        example = min(triples, key=lambda t: tuple(str(x) for x in t))
        yield prop, (f"{facts.name(prop)} is used in {len(triples)} triple(s), e.g. {_triple(*example)}, "
                     "but the ontology does not declare it as an object, datatype or annotation property")


def _unused_term(facts: _Facts) -> Iterator[_Raw]:
    used: set[Node] = set()
    for _, p, o in facts.use:
        used.add(p)
        if isinstance(o, URIRef):
            used.add(o)
    for graph in (facts.ontology, facts.data):
        used.update(graph.objects(None, RDF.type))  # classes with instances, code-list concepts included
    for s, p, o in facts.shapes:
        used.update(node for node in (s, p, o) if isinstance(node, URIRef))
    for term in sorted(facts.classes | facts.properties):
        if not _in(term, (str(KG),)) or term in used:
            continue
        below = facts.sub_classes.get(term, set()) | facts.sub_properties.get(term, set())
        if below & used:
            continue
        yield term, f"{_kind(facts, term)} {facts.name(term)} is neither used in the data nor referenced by a shape"


def _domain_range(facts: _Facts) -> tuple[list[_Raw], list[_Raw]]:
    domains: dict[Node, set[Node]] = defaultdict(set)
    ranges: dict[Node, set[Node]] = defaultdict(set)
    for target, predicate in ((domains, RDFS.domain), (ranges, RDFS.range)):
        for prop, value in facts.ontology.subject_objects(predicate):
            target[prop].add(value)
        for prop, ancestors in facts.super_properties.items():  # a super-property's domain and range hold too
            for ancestor in ancestors:
                for value in facts.ontology.objects(ancestor, predicate):
                    target[prop].add(value)
    domain_findings: dict[tuple[Node, Node], _Raw] = {}
    range_findings: dict[tuple[Node, Node, Node], _Raw] = {}
    for s, p, o in facts.triples:
        if p in domains and isinstance(s, URIRef) and (s, p) not in domain_findings and facts.types.get(s):
            have = facts.closure_of_types(s)
            missing = [d for d in domains[p] if not _satisfied(facts, d, have)]
            if missing:
                domain_findings[(s, p)] = (s, (
                    f"{facts.name(s)} is the subject of {_curie(p)} but is not a "
                    f"{' and '.join(sorted(_curie(d) for d in missing))} (its types: "
                    f"{', '.join(sorted(_curie(t) for t in facts.types[s]))}), e.g. {_triple(s, p, o)}"))
        if p in ranges and isinstance(s, URIRef):
            problem = _range_problem(facts, o, ranges[p])
            if problem:
                range_findings[(s, p, o)] = (s, f"{_triple(s, p, o)}: the object {problem}")
    return list(domain_findings.values()), list(range_findings.values())


def _satisfied(facts: _Facts, expression: Node, have: set[Node]) -> bool:
    members = facts.members(expression)
    if members is None:
        return True  # a class expression this linter does not evaluate
    return any(m in _TOP or m in have for m in members)


def _range_problem(facts: _Facts, value: Node, ranges: set[Node]) -> str | None:
    for expression in sorted(ranges, key=str):
        members = facts.members(expression)
        if members is None:
            continue
        if isinstance(value, Literal):
            reasons = []
            for member in members:
                if not _is_datatype(member, facts.datatypes):
                    reasons.append(f"is a literal where an instance of {_curie(member)} is expected")
                    continue
                reason = _literal_fits(value, member)
                if reason is None:
                    break
                reasons.append(f"{reason}, not a {_curie(member)}")
            else:
                return "; ".join(reasons)
            continue
        if all(_is_datatype(m, facts.datatypes) for m in members):
            return f"{facts.name(value)} is a resource where a literal of {_curie(expression)} is expected"
        types = facts.types.get(value)
        if not types:
            continue
        have = facts.closure_of_types(value)
        if not any(m in _TOP or m in have for m in members):
            return (f"{facts.name(value)} is not a {_curie(expression)} "
                    f"(its types: {', '.join(sorted(_curie(t) for t in types))})")
    return None


def _untyped_individual(facts: _Facts) -> Iterator[_Raw]:
    for subject in set(facts.data.subjects()):
        if _in(subject, INSTANCE_NAMESPACES) and not facts.types.get(subject):
            assert isinstance(subject, URIRef)
            yield subject, f"{facts.name(subject)} is described in the data but has no rdf:type"


def _deprecated_used(facts: _Facts) -> Iterator[_Raw]:
    deprecated = {s for s, o in facts.ontology.subject_objects(OWL.deprecated)
                  if isinstance(s, URIRef) and isinstance(o, Literal) and str(o).strip().lower() in ("true", "1")}
    if not deprecated:
        return
    uses: dict[URIRef, list[tuple[Node, Node, Node]]] = defaultdict(list)
    for s, p, o in facts.use:
        for node in {p, o}:
            if node in deprecated:
                uses[node].append((s, p, o))  # type: ignore[index]
    for term, triples in uses.items():
        example = min(triples, key=lambda t: tuple(str(x) for x in t))
        instead = [facts.name(r) for r in facts.ontology.objects(term, DCTERMS.isReplacedBy)]
        hint = f"; use {', '.join(sorted(instead))} instead" if instead else ""
        yield term, (f"{facts.name(term)} is deprecated but used in {len(triples)} triple(s), "
                     f"e.g. {_triple(*example)}{hint}")


@lru_cache(maxsize=65536)
def _known_iri(iri: URIRef) -> bool:
    text = str(iri)
    if text == ONTOLOGY_IRI or text.startswith(ONTOLOGY_IRI + "/"):  # the ontology and its version IRIs
        return True
    return _in(iri, PROJECT_NAMESPACES) or _in(iri, KNOWN_VOCABULARIES)


def _unknown_namespace(facts: _Facts) -> Iterator[_Raw]:
    uses: dict[URIRef, list[tuple[Node, Node, Node]]] = defaultdict(list)
    for s, p, o in facts.triples:
        if isinstance(p, URIRef) and not _known_iri(p):
            uses[p].append((s, p, o))
        if isinstance(o, URIRef) and p not in LINK_PROPERTIES and not _known_iri(o):
            uses[o].append((s, p, o))
    for iri, triples in uses.items():
        example = min(triples, key=lambda t: tuple(str(x) for x in t))
        yield iri, (f"{facts.name(iri)} is outside the project's namespaces and the known vocabularies; "
                    f"used in {len(triples)} triple(s), e.g. {_triple(*example)}")


def lint(ontology: Graph, data: Graph, shapes: Graph, config: LintConfig = DEFAULT_CONFIG) -> LintReport:
    """Run every enabled check; the findings are sorted by level, check, subject and message."""
    facts = _Facts(ontology, data, shapes)
    raw: dict[str, Iterable[_Raw]] = {}
    simple = {
        "missing-label": _missing_label, "missing-definition": _missing_definition,
        "duplicate-label": _duplicate_label, "undeclared-property": _undeclared_property,
        "unused-term": _unused_term, "untyped-individual": _untyped_individual,
        "deprecated-used": _deprecated_used, "unknown-namespace": _unknown_namespace,
    }
    for check, function in simple.items():
        if config.enabled(check):
            raw[check] = list(function(facts))
    if config.enabled("domain-violation") or config.enabled("range-violation"):
        domain_findings, range_findings = _domain_range(facts)
        raw["domain-violation"] = domain_findings
        raw["range-violation"] = range_findings
    findings = {LintFinding(config.level(check), check, subject, message)
                for check, items in raw.items() if config.enabled(check) for subject, message in items}
    ordered = sorted(findings, key=lambda f: (_LEVEL_ORDER[f.level], f.check, str(f.subject), f.message))
    return LintReport(tuple(ordered))


__all__ = ["CHECKS", "CHECK_IDS", "DEFAULT_CONFIG", "Check", "CheckSetting", "Level", "LintConfig", "LintFinding",
           "LintReport", "lint", "load_lint_config"]
