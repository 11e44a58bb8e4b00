"""SHACL validation compiled to SPARQL and run on an Oxigraph store: the fast path for big graphs.

`validate_sparql(data, shapes)` gives the same `ValidationReport` as `kgtool.validate.validate` (pySHACL):
the same results (focus node, path, value, source shape, constraint component, severity, message) and a
standard SHACL report graph. Instead of walking focus nodes one by one it compiles each constraint of the
shapes graph into one SPARQL query that finds the failures of *all* focus nodes at once (a SHACL-SPARQL
constraint runs once, with `$this` bound by its shape's targets, not once per focus node), and runs the
queries on Oxigraph. Data is loaded into Oxigraph directly from N-Triples or Turtle (`load_store`), not
through rdflib.

Supported: every SHACL Core constraint component (sh:class, sh:datatype, sh:nodeKind, sh:minCount,
sh:maxCount, sh:minExclusive / minInclusive / maxExclusive / maxInclusive, sh:minLength, sh:maxLength,
sh:pattern with sh:flags, sh:languageIn, sh:uniqueLang, sh:equals, sh:disjoint, sh:lessThan,
sh:lessThanOrEquals, sh:not, sh:and, sh:or, sh:xone, sh:node, sh:property, sh:qualifiedValueShape with
sh:qualifiedMinCount / sh:qualifiedMaxCount, sh:closed with sh:ignoredProperties, sh:hasValue, sh:in),
SHACL-SPARQL constraints (sh:sparql with sh:select, `$this`, `$PATH`, sh:prefixes / sh:declare), property
paths (sequence, alternative, inverse, zero-or-more, one-or-more, zero-or-one), the targets sh:targetClass
(through rdfs:subClassOf* in the data graph), sh:targetNode, sh:targetSubjectsOf, sh:targetObjectsOf and
implicit class targets, sh:severity, sh:message and sh:deactivated. Anything else in the shapes graph
(SPARQL-based targets or constraint components, sh:qualifiedValueShapesDisjoint, a SPARQL constraint that
pre-binding cannot be batched for, ...) raises `UnsupportedShapeError` naming every such use: the fast path
never skips a constraint silently.

Two things Oxigraph does differently from rdflib, and how they are handled:

- Oxigraph stores literals in a canonical form: `"5"^^xsd:nonNegativeInteger` becomes `"5"^^xsd:integer`,
  `"28700000.0"^^xsd:decimal` becomes `"28700000"`, language tags are lower-cased (oxigraph issue #526).
  For every predicate that a shape checks with sh:datatype of an integer type or xsd:dateTime, or with a
  lexical constraint (sh:pattern, sh:minLength, sh:maxLength), `load_store` keeps a verbatim copy of each
  such literal in the named graph `<urn:kgtool:shacl-sparql:lexical>`, and the compiled queries read the
  original datatype and lexical form from there. Values in results are mapped back to the data graph's own
  terms when the data is an rdflib graph; for files, a value outside those predicates is reported in
  Oxigraph's canonical form.
- A literal that is ill-formed for its datatype is judged as pySHACL judges it (rdflib's `ill_typed` and
  value type): candidates are found in SPARQL and checked in Python, so the two engines agree.

The default graph is validated: Oxigraph's default graph is not the union of its named graphs. Quads
files (.nq, .trig) are loaded into the default graph; for a store passed in, `union_of_graphs=True`
queries the union instead.
"""
from __future__ import annotations

import itertools
import logging
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from .errors import BadInputError
from .namespaces import OWL, RDF, RDFS, SH, XSD
from .store import new_graph
from .validate import Severity, ValidationReport, ValidationResult

LEXICAL_GRAPH = "urn:kgtool:shacl-sparql:lexical"
RAW_DATATYPE = "urn:kgtool:shacl-sparql:lexical:"  # + the original datatype IRI
PRESERVES = "urn:kgtool:shacl-sparql:preserves"  # marker: <LEXICAL_GRAPH> <PRESERVES> <predicate> in that graph

_X = str(XSD)
INTEGER_TYPES = frozenset(_X + t for t in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "negativeInteger",
    "nonPositiveInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"))
# datatypes whose datatype IRI Oxigraph changes when it stores a literal
RETYPED = INTEGER_TYPES | {_X + "dateTime", _X + "dateTimeStamp"}
# datatypes whose lexical form Oxigraph may change
NORMALISED = RETYPED | {_X + t for t in ("decimal", "double", "float", "boolean")}

_SH = str(SH)
_RDF_TYPE = str(RDF.type)
_SUBCLASS = str(RDFS.subClassOf)

# Parameters of constraint components, by where they may appear.
_VALUE_PARAMETERS = {SH["class"], SH.datatype, SH.nodeKind, SH["in"], SH.pattern, SH.minLength, SH.maxLength,
                     SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.languageIn,
                     SH["not"], SH["and"], SH["or"], SH.xone, SH.node, SH.hasValue}
_PATH_PARAMETERS = {SH.minCount, SH.maxCount, SH.uniqueLang, SH.qualifiedValueShape, SH.qualifiedMinCount,
                    SH.qualifiedMaxCount, SH.qualifiedValueShapesDisjoint}
_PAIR_PARAMETERS = {SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals}
_OTHER_PARAMETERS = {SH.property, SH.sparql, SH.closed, SH.ignoredProperties, SH.flags}
_TARGETS = {SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf}
# Non-validating shape properties (SHACL 1.0 sections 2.3, 2.4 and 2.5).
_ANNOTATIONS = {SH.path, SH.severity, SH.message, SH.deactivated, SH.name, SH.description, SH.order, SH.group,
                SH.defaultValue}
_KNOWN = _VALUE_PARAMETERS | _PATH_PARAMETERS | _PAIR_PARAMETERS | _OTHER_PARAMETERS | _TARGETS | _ANNOTATIONS

_COMPONENT = {
    SH["class"]: SH.ClassConstraintComponent, SH.datatype: SH.DatatypeConstraintComponent,
    SH.nodeKind: SH.NodeKindConstraintComponent, SH["in"]: SH.InConstraintComponent,
    SH.pattern: SH.PatternConstraintComponent, SH.minLength: SH.MinLengthConstraintComponent,
    SH.maxLength: SH.MaxLengthConstraintComponent, SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.maxInclusive: SH.MaxInclusiveConstraintComponent, SH.minExclusive: SH.MinExclusiveConstraintComponent,
    SH.maxExclusive: SH.MaxExclusiveConstraintComponent, SH.languageIn: SH.LanguageInConstraintComponent,
    SH["not"]: SH.NotConstraintComponent, SH["and"]: SH.AndConstraintComponent, SH["or"]: SH.OrConstraintComponent,
    SH.xone: SH.XoneConstraintComponent, SH.node: SH.NodeConstraintComponent,
    SH.hasValue: SH.HasValueConstraintComponent, SH.minCount: SH.MinCountConstraintComponent,
    SH.maxCount: SH.MaxCountConstraintComponent, SH.uniqueLang: SH.UniqueLangConstraintComponent,
    SH.equals: SH.EqualsConstraintComponent, SH.disjoint: SH.DisjointConstraintComponent,
    SH.lessThan: SH.LessThanConstraintComponent, SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
    SH.closed: SH.ClosedConstraintComponent, SH.sparql: SH.SPARQLConstraintComponent,
}
_SEVERITIES = {s.iri: s for s in Severity}
_ORDER = {Severity.VIOLATION: 0, Severity.WARNING: 1, Severity.INFO: 2}


class UnsupportedShapeError(BadInputError):
    """The shapes graph uses SHACL features the SPARQL fast path does not implement (exit 3)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("the SPARQL validation engine does not support what these shapes use:\n  "
                         + "\n  ".join(self.problems), hint="validate with pySHACL instead (--engine pyshacl)")


# ------------------------------------------------------------------------------------------------ terms

def _sparql(term: Node) -> str:
    """An rdflib term in SPARQL syntax (absolute IRIs, escaped literals)."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        text = _quote(str(term))
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None:
            return f"{text}^^<{term.datatype}>"
        return text
    raise UnsupportedShapeError([f"a blank node ({term.n3()}) as a constant in a constraint"])


def _quote(text: str) -> str:
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")) + '"'


def _nt(term: Node) -> str:
    """An rdflib IRI or literal in N-Triples syntax."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        text = _quote(str(term))
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None and term.datatype != XSD.string:
            return f"{text}^^<{term.datatype}>"
        return text
    raise TypeError(term)  # pragma: no cover


def _ox(term: Node) -> Any:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype is not None:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


@contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib logs a traceback for every ill-typed literal it is asked to build; we build them on purpose."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _rdflib(term: Any) -> Node:
    """An Oxigraph term as the rdflib term it stands for (verbatim copies decoded)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    if datatype.startswith(RAW_DATATYPE):
        datatype = datatype[len(RAW_DATATYPE):]
    with _quiet_rdflib():
        return Literal(term.value) if datatype == _X + "string" else Literal(term.value, datatype=URIRef(datatype))


# ------------------------------------------------------------------------------------------------ datatypes

try:  # the datatypes rdflib checks lexical forms of (pySHACL's notion of ill-typed)
    from rdflib.term import _toPythonMapping as _RDFLIB_CONVERTERS  # noqa: PLC2701
    RDFLIB_CHECKED = frozenset(str(k) for k in _RDFLIB_CONVERTERS if k is not None)
except ImportError:  # pragma: no cover - rdflib moved it
    RDFLIB_CHECKED = frozenset(_X + t for t in (
        "anyURI", "base64Binary", "boolean", "byte", "date", "dateTime", "dayTimeDuration", "decimal", "double",
        "duration", "float", "hexBinary", "int", "integer", "language", "long", "negativeInteger",
        "nonNegativeInteger", "nonPositiveInteger", "normalizedString", "positiveInteger", "short", "string",
        "time", "token", "unsignedByte", "unsignedInt", "unsignedLong", "unsignedShort", "yearMonthDuration"))

_DAY = "(0[1-9]|1[0-9]|2[0-8])"
_DATE = f"[0-9]{{4}}-(0[1-9]|1[0-2])-{_DAY}"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\\\.[0-9]+)?"
_ZONE = "(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?"
# Lexical forms certain to be well-formed for rdflib: anything else is checked in Python.
_CERTAIN = {
    _X + "integer": "^[+-]?[0-9]+$", _X + "long": "^-?[0-9]{1,18}$", _X + "int": "^-?[0-9]{1,9}$",
    _X + "short": "^-?[0-9]{1,4}$", _X + "byte": "^-?[0-9]{1,2}$",
    _X + "nonNegativeInteger": "^(0|[1-9][0-9]*)$", _X + "positiveInteger": "^[1-9][0-9]*$",
    _X + "negativeInteger": "^-[1-9][0-9]*$", _X + "nonPositiveInteger": "^(0|-[1-9][0-9]*)$",
    _X + "unsignedLong": "^[0-9]{1,19}$", _X + "unsignedInt": "^[0-9]{1,9}$",
    _X + "unsignedShort": "^[0-9]{1,4}$", _X + "unsignedByte": "^[0-9]{1,2}$",
    _X + "decimal": "^[+-]?[0-9]+(\\\\.[0-9]+)?$",
    _X + "double": "^[+-]?[0-9]+(\\\\.[0-9]+)?([eE][+-]?[0-9]+)?$",
    _X + "float": "^[+-]?[0-9]+(\\\\.[0-9]+)?([eE][+-]?[0-9]+)?$",
    _X + "boolean": "^(true|false)$", _X + "date": f"^{_DATE}{_ZONE}$",
    _X + "dateTime": f"^{_DATE}T{_TIME}{_ZONE}$", _X + "time": f"^{_TIME}{_ZONE}$",
    _X + "string": "", _X + "normalizedString": "^[^\\\\n\\\\r\\\\t]*$", _X + "token": "^[^\\\\n\\\\r\\\\t]*$",
    _X + "anyURI": "^[^ ]*$", _X + "language": "^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$",
}
_ACTUAL_TYPE = {_X + "integer": int, _X + "float": float, _X + "boolean": bool}


def datatype_conforms(value: Node, rule: URIRef) -> bool:
    """pySHACL's sh:datatype test for one value: rdflib's `ill_typed`, then the Python value's type."""
    from datetime import date, datetime, time
    from decimal import Decimal

    if not isinstance(value, Literal):
        return False
    with _quiet_rdflib():
        literal = Literal(str(value), lang=value.language) if value.language else (
            Literal(str(value)) if value.datatype is None else Literal(str(value), datatype=value.datatype))
        actual = literal.value

    def of_type() -> bool:
        name = str(rule)
        if rule in (XSD.string, RDF.langString):
            return isinstance(actual, (str, bytes))
        expected: Any = {_X + "decimal": Decimal, _X + "date": date, _X + "time": time,
                         _X + "dateTime": datetime}.get(name, _ACTUAL_TYPE.get(name))
        return True if expected is None else isinstance(actual, expected)

    if literal.datatype == rule:
        return False if getattr(literal, "ill_typed", None) is True else of_type()
    if rule == RDFS.Literal:
        return True
    if rule == RDFS.Datatype and literal.datatype:
        return True
    if literal.datatype is None and literal.language is None and rule == XSD.string:
        return of_type()
    if rule == RDF.langString and literal.language:
        return of_type()
    return False


# ------------------------------------------------------------------------------------------------ loading

def _read_ntriples(path: Path) -> bytes:
    """N-Triples bytes for any RDF file Oxigraph reads; quads lose their graph name (one default graph)."""
    suffix = path.suffix.lower()
    if suffix == ".nt":
        try:
            return path.read_bytes()
        except OSError as error:
            raise BadInputError(f"cannot read: {error.strerror}", path=path) from None
    formats = {".ttl": ox.RdfFormat.TURTLE, ".nq": ox.RdfFormat.N_QUADS, ".trig": ox.RdfFormat.TRIG,
               ".rdf": ox.RdfFormat.RDF_XML, ".owl": ox.RdfFormat.RDF_XML, ".xml": ox.RdfFormat.RDF_XML,
               ".n3": ox.RdfFormat.N3, ".jsonld": ox.RdfFormat.JSON_LD}
    rdf_format = formats.get(suffix)
    if rdf_format is None:
        raise BadInputError(f"unknown RDF file type {suffix!r}", path=path,
                            hint=f"use one of .nt, {', '.join(sorted(formats))}")
    try:
        triples = (ox.Triple(q.subject, q.predicate, q.object) for q in
                   ox.parse(path=str(path), format=rdf_format, base_iri=path.resolve().as_uri()))
        return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    except (SyntaxError, ValueError, OSError) as error:
        raise BadInputError(f"malformed {rdf_format}: {' '.join(str(error).split())[:300]}", path=path) from None


_NT_LITERAL = re.compile(rb'(\S+) <([^>]*)> "((?:[^"\\]|\\.)*)"\^\^<([^>]*)> \.')


_NORMALISED_SUFFIX = re.compile(rb'"\^\^<http://www\.w3\.org/2001/XMLSchema#(?:'
                                + b"|".join(sorted(re.escape(t[len(_X):].encode()) for t in NORMALISED)) + rb")> \.")


def _verbatim_lines(data: bytes, preserve: frozenset[str]) -> list[bytes]:
    """N-Quads lines, in the lexical graph, with a verbatim copy of every literal of a preserved predicate
    whose form Oxigraph would change (one pass over the N-Triples for such literals)."""
    lines: list[bytes] = []
    if preserve:
        wanted = {p.encode() for p in preserve}
        for found in _NORMALISED_SUFFIX.finditer(data):
            if data[found.end():found.end() + 1].strip(b" \t") not in (b"", b"\n", b"\r"):
                continue  # not the end of a line: text inside a literal
            start = data.rfind(b"\n", 0, found.start()) + 1
            match = _NT_LITERAL.fullmatch(data, start, found.end())
            if match is None or match.group(2) not in wanted:
                continue
            subject, predicate, lexical, datatype = match.groups()
            lines.append(b'%s <%s> "%s"^^<%s%s> <%s> .' % (subject, predicate, lexical, RAW_DATATYPE.encode(),
                                                           datatype, LEXICAL_GRAPH.encode()))
    for predicate in sorted(preserve):
        lines.append(f"<{LEXICAL_GRAPH}> <{PRESERVES}> <{predicate}> <{LEXICAL_GRAPH}> .".encode())
    return lines


def _load_bytes(store: Any, data: bytes, preserve: frozenset[str]) -> None:
    extra = _verbatim_lines(data, preserve)
    try:
        if not extra:
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
        elif any(line.startswith(b"_:") for line in extra):  # blank nodes must be read in one document
            store.bulk_load(data + b"\n" + b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
        else:
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
            store.bulk_load(b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
    except SyntaxError as error:
        raise BadInputError(f"malformed N-Triples: {' '.join(str(error).split())[:300]}") from None


def _load_graph(store: Any, graph: Graph, preserve: frozenset[str]) -> None:
    """An rdflib graph into the store: blank nodes keep their rdflib ids, so results map back to them."""
    lines: list[str] = []
    quads: list[Any] = []
    for s, p, o in graph:
        if isinstance(s, BNode) or isinstance(o, BNode):
            quads.append(ox.Quad(_ox(s), _ox(p), _ox(o)))
        else:
            lines.append(f"{_nt(s)} {_nt(p)} {_nt(o)} .\n")
    data = "".join(lines).encode("utf-8")
    extra = _verbatim_lines(data, preserve)
    for predicate in preserve:  # literals of preserved predicates on blank nodes
        for s, o in graph.subject_objects(URIRef(predicate)):
            if isinstance(s, BNode) and isinstance(o, Literal) and str(o.datatype) in NORMALISED:
                quads.append(ox.Quad(_ox(s), ox.NamedNode(predicate),
                                     ox.Literal(str(o), datatype=ox.NamedNode(RAW_DATATYPE + str(o.datatype))),
                                     ox.NamedNode(LEXICAL_GRAPH)))
    store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
    if extra:
        store.bulk_load(b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
    if quads:
        store.extend(quads)


def load_store(*sources: Path | Graph, preserve: Iterable[str | URIRef] = ()) -> Any:
    """A new in-memory Oxigraph store holding the sources in its default graph.

    `preserve` names the predicates whose literals must keep their datatype and lexical form for
    validation (see `ShapesPlan.preserved`); a verbatim copy of those goes into the lexical graph."""
    kept = frozenset(str(p) for p in preserve)
    store = ox.Store()
    for source in sources:
        if isinstance(source, Graph):
            _load_graph(store, source, kept)
        else:
            _load_bytes(store, _read_ntriples(Path(source)), kept)
    return store


# ------------------------------------------------------------------------------------------------ SPARQL text of shapes

def _path(shapes: Graph, node: Node) -> str:
    """A SHACL property path as a SPARQL property path."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if (node, RDF.first, None) in shapes:
        return "(" + "/".join(_path(shapes, item) for item in Collection(shapes, node)) + ")"
    for predicate, template in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                                (SH.zeroOrOnePath, "{}?")):
        inner = shapes.value(node, predicate)
        if inner is not None:
            return "(" + template.format(_path(shapes, inner)) + ")"
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path(shapes, item) for item in Collection(shapes, alternatives)) + ")"
    raise UnsupportedShapeError([f"the property path {node.n3()} is not a SHACL path"])


def _list(shapes: Graph, node: Node) -> list[Node]:
    return list(Collection(shapes, node))


def _show(shapes: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        try:
            return shapes.namespace_manager.normalizeUri(node)
        except Exception:  # pragma: no cover - rdflib cannot shorten some IRIs
            return f"<{node}>"
    return node.n3()


def _objects(shapes: Graph, subject: Node, predicate: Node) -> list[Node]:
    return sorted(shapes.objects(subject, predicate), key=str)


def _pairs(shapes: Graph, subject: Node) -> list[tuple[Node, Node]]:
    return sorted(shapes.predicate_objects(subject), key=lambda pair: (str(pair[0]), str(pair[1])))


def _true(value: Node | None) -> bool:
    return isinstance(value, Literal) and value.toPython() is True


def _flag(term: Any) -> bool:
    return term is not None and getattr(term, "value", None) == "true"


# ------------------------------------------------------------------------------------------------ the compiler

@dataclass
class _Result:
    focus: Node
    path: Node | None
    value: Node | None
    shape: Node
    component: URIRef
    severity: URIRef
    messages: list[Literal]
    constraint: Node | None = None
    parameter: Node | None = None  # the shape of sh:node, whose own results become sh:detail
    details: list[_Result] = field(default_factory=list)


class _Compiler:
    """Compiles shapes into SPARQL for one store (class hierarchies are read from the store's data)."""

    def __init__(self, shapes: Graph, store: Any, preserved: frozenset[str], union: bool,
                 source: Graph | None = None) -> None:
        self.shapes = shapes
        self.source = source
        self.store = store
        self.preserved = preserved
        self.union = union
        self.counter = itertools.count()
        self.closures: dict[URIRef, list[str]] = {}
        self.single: dict[str, bool] = {}
        self.typed: set[str] | None = None
        # predicates that do have verbatim copies (no copy: every literal was stored as written)
        self.copied: frozenset[str] = frozenset()
        if preserved:
            rows = self.query(f"SELECT DISTINCT ?p WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ ?s ?p ?o }} }}")
            self.copied = frozenset(row["p"].value for row in rows) & preserved

    def fresh(self, name: str) -> str:
        return f"?kgtool_{name}{next(self.counter)}"

    def has_instances(self, cls: Node) -> bool:
        """Whether the class or a subclass has an instance (one query for all classes, then cached)."""
        if self.typed is None:
            rows = self.query(f"SELECT DISTINCT ?c WHERE {{ ?s <{_RDF_TYPE}> ?c }}")
            self.typed = {f"<{row['c'].value}>" for row in rows if isinstance(row["c"], ox.NamedNode)}
        return any(c in self.typed for c in self.closure(cls))

    def single_valued(self, predicate: str) -> bool:
        """No subject has two values of the predicate (then no sh:maxCount 1 or sh:uniqueLang fails on it)."""
        if predicate not in self.single:
            # one value per subject in the default graph, and at most one verbatim copy per subject (two
            # copies behind one stored triple: "5"^^xsd:int and "5"^^xsd:integer, which Oxigraph merges)
            graphs = [f"?s <{predicate}> ?o"] + ([f"GRAPH <{LEXICAL_GRAPH}> {{ ?s <{predicate}> ?o }}"]
                                                 if predicate in self.copied else [])
            single = True
            for pattern in graphs:
                row = next(iter(self.query(f"SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?m) WHERE {{ {pattern} }}")))
                single = single and row["n"].value == row["m"].value
            self.single[predicate] = single
        return self.single[predicate]

    def query(self, text: str) -> Any:
        return self.store.query(text, use_default_graph_as_union=self.union)

    def closure(self, cls: Node) -> list[str]:
        """The class and its subclasses in the data graph (rdfs:subClassOf*), as SPARQL IRIs."""
        if not isinstance(cls, URIRef):
            raise UnsupportedShapeError([f"sh:class or sh:targetClass {cls.n3()} is not an IRI"])
        if cls not in self.closures:
            rows = self.query(f"SELECT DISTINCT ?c WHERE {{ ?c <{_SUBCLASS}>* <{cls}> }}")
            found = {row["c"].value for row in rows if isinstance(row["c"], ox.NamedNode)}
            found.add(str(cls))
            self.closures[cls] = sorted(f"<{c}>" for c in found)
        return self.closures[cls]

    def instance_of(self, var: str, cls: Node) -> str:
        """A graph pattern: `var` is an instance of `cls` or of a subclass."""
        classes = self.closure(cls)
        if len(classes) == 1:
            return f"{var} <{_RDF_TYPE}> {classes[0]} ."
        c = self.fresh("class")
        return f"VALUES {c} {{ {' '.join(classes)} }} {var} <{_RDF_TYPE}> {c} ."

    # -- focus nodes

    def targets(self, targets: list[tuple[URIRef, Node]]) -> str:
        """A graph pattern binding ?this to the focus nodes of these targets (maybe more than once)."""
        parts = []
        for kind, target in targets:
            if kind == SH.targetClass:
                parts.append("{ " + self.instance_of("?this", target) + " }")
            elif kind == SH.targetNode:
                parts.append(f"{{ VALUES ?this {{ {_sparql(target)} }} }}")
            elif kind == SH.targetSubjectsOf:
                parts.append(f"{{ ?this <{target}> ?kgtool_any }}")
            elif kind == SH.targetObjectsOf:
                parts.append(f"{{ ?kgtool_any <{target}> ?this }}")
        return " UNION ".join(parts)

    # -- value nodes

    def preserved_path(self, path: Node | None) -> bool:
        return isinstance(path, URIRef) and str(path) in self.copied

    def values(self, subject: str, path: Node, var: str) -> str:
        """A graph pattern binding `var` to each value node of `path` from `subject` (verbatim copies for
        preserved predicates: their literals are read from the lexical graph)."""
        text = _path(self.shapes, path)
        if not self.preserved_path(path):
            return f"{subject} {text} {var} ."
        normalised = ", ".join(f"<{d}>" for d in sorted(NORMALISED))
        return (f"{{ {subject} {text} {var} . FILTER (!isLiteral({var}) || !(DATATYPE({var}) IN ({normalised}))) }}"
                f" UNION {{ GRAPH <{LEXICAL_GRAPH}> {{ {subject} {text} {var} }} }}")

    # -- expressions on one value (never an error: a failed comparison is a failed constraint)

    @staticmethod
    def lexical_datatype(var: str, raw: bool) -> str:
        if not raw:
            return f"DATATYPE({var})"
        return (f"IF(STRSTARTS(STR(DATATYPE({var})), \"{RAW_DATATYPE}\"), "
                f"IRI(STRAFTER(STR(DATATYPE({var})), \"{RAW_DATATYPE}\")), DATATYPE({var}))")

    @staticmethod
    def numeric(var: str, raw: bool) -> str:
        """The value to compare: a verbatim copy read as its original datatype."""
        if not raw:
            return var
        return (f"IF(isLiteral({var}) && STRSTARTS(STR(DATATYPE({var})), \"{RAW_DATATYPE}\"), "
                f"STRDT(STR({var}), IRI(STRAFTER(STR(DATATYPE({var})), \"{RAW_DATATYPE}\"))), {var})")

    def same_term(self, var: str, term: Node, raw: bool) -> str:
        if raw and isinstance(term, Literal):
            datatype = term.datatype or (RDF.langString if term.language else XSD.string)
            return (f"(isLiteral({var}) && STR({var}) = {_quote(str(term))} && "
                    f"{self.lexical_datatype(var, True)} = <{datatype}> && "
                    f"LCASE(LANG({var})) = {_quote((term.language or '').lower())})")
        return f"sameTerm({var}, {_sparql(term)})"

    def well_formed(self, var: str, datatype: URIRef, raw: bool) -> str:
        """An approximation in SPARQL of rdflib's well-formedness (used inside sh:or, sh:not ...)."""
        name = str(datatype)
        if name not in RDFLIB_CHECKED or name in (_X + "string",):
            return "true"
        lexical = f"STR({var})"
        if name in INTEGER_TYPES:
            bounds = {"positiveInteger": "> 0", "nonNegativeInteger": ">= 0", "negativeInteger": "< 0",
                      "nonPositiveInteger": "<= 0", "byte": "BETWEEN", "short": "BETWEEN", "int": "BETWEEN",
                      "unsignedByte": "BETWEEN", "unsignedShort": "BETWEEN", "unsignedInt": "BETWEEN",
                      "unsignedLong": ">= 0"}
            ranges = {"byte": (-128, 127), "short": (-32768, 32767), "int": (-2147483648, 2147483647),
                      "unsignedByte": (0, 255), "unsignedShort": (0, 65535), "unsignedInt": (0, 4294967295)}
            local = name[len(_X):]
            number = f"<{_X}integer>({lexical})"
            test = f"isNumeric({number})"
            if local in ranges:
                low, high = ranges[local]
                test += f" && {number} >= {low} && {number} <= {high}"
            elif local in bounds:
                test += f" && {number} {bounds[local]}"
            return f"COALESCE({test}, false)"
        casts = {"decimal", "double", "float", "boolean", "date", "dateTime", "time", "duration",
                 "dayTimeDuration", "yearMonthDuration"}
        local = name[len(_X):]
        if local in casts:
            return f"COALESCE(DATATYPE(<{name}>({lexical})) = <{name}>, false)"
        pattern = _CERTAIN.get(name)
        return f"REGEX({lexical}, \"{pattern}\")" if pattern else "true"

    def value_test(self, shape: Node, predicate: URIRef, parameter: Node, var: str, raw: bool,
                   nested: bool) -> str:
        """The SPARQL expression that is true when `var` satisfies one constraint parameter of `shape`."""
        shapes = self.shapes
        if predicate == SH["class"]:
            return f"EXISTS {{ {self.instance_of(var, parameter)} }}"
        if predicate == SH.datatype:
            assert isinstance(parameter, URIRef)
            if parameter == RDFS.Literal:
                return f"isLiteral({var})"
            if parameter == RDFS.Datatype:
                return f"(isLiteral({var}) && LANG({var}) = \"\" && DATATYPE({var}) != <{_X}string>)"
            if not nested:
                return f"(isLiteral({var}) && {self.lexical_datatype(var, raw)} = <{parameter}>)"
            return (f"(isLiteral({var}) && {self.lexical_datatype(var, raw)} = <{parameter}> && "
                    f"{self.well_formed(var, parameter, raw)})")
        if predicate == SH.nodeKind:
            kinds: dict[Node, str] = {SH.IRI: f"isIRI({var})", SH.BlankNode: f"isBlank({var})", SH.Literal: f"isLiteral({var})",
                     SH.BlankNodeOrIRI: f"!isLiteral({var})", SH.BlankNodeOrLiteral: f"!isIRI({var})",
                     SH.IRIOrLiteral: f"!isBlank({var})"}
            if parameter not in kinds:
                raise UnsupportedShapeError([f"{_show(shapes, shape)}: sh:nodeKind {parameter.n3()}"])
            return kinds[parameter]
        if predicate == SH["in"]:
            members = _list(shapes, parameter)
            return "(" + " || ".join([self.same_term(var, m, raw) for m in members] or ["false"]) + ")"
        if predicate == SH.hasValue:
            return self.same_term(var, parameter, raw)
        if predicate == SH.pattern:
            flags = shapes.value(shape, SH.flags)
            flag_text = f", {_quote(str(flags))}" if flags is not None else ""
            return f"COALESCE(!isBlank({var}) && REGEX(STR({var}), {_quote(str(parameter))}{flag_text}), false)"
        if predicate in (SH.minLength, SH.maxLength):
            operator = ">=" if predicate == SH.minLength else "<="
            limit = int(parameter)  # type: ignore[call-overload]
            if predicate == SH.minLength and limit == 0:
                return "true"
            return f"COALESCE(!isBlank({var}) && STRLEN(STR({var})) {operator} {limit}, false)"
        if predicate in (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive):
            operator = {SH.minInclusive: ">=", SH.maxInclusive: "<=", SH.minExclusive: ">",
                        SH.maxExclusive: "<"}[predicate]
            return f"COALESCE({self.numeric(var, raw)} {operator} {_sparql(parameter)}, false)"
        if predicate == SH.languageIn:
            languages = [str(x) for x in _list(shapes, parameter)]
            if "*" in languages:
                return f"(isLiteral({var}) && LANG({var}) != \"\")"
            tests = [f"langMatches(LANG({var}), {_quote(lang)})" for lang in languages]
            return f"COALESCE(isLiteral({var}) && ({' || '.join(tests) or 'false'}), false)"
        if predicate == SH["not"]:
            return f"!({self.conforms(parameter, var, raw)})"
        if predicate == SH["and"]:
            return "(" + " && ".join([self.conforms(s, var, raw) for s in _list(shapes, parameter)] or ["true"]) + ")"
        if predicate == SH["or"]:
            return "(" + " || ".join([self.conforms(s, var, raw) for s in _list(shapes, parameter)] or ["false"]) + ")"
        if predicate == SH.xone:
            terms = [f"IF({self.conforms(s, var, raw)}, 1, 0)" for s in _list(shapes, parameter)]
            return "((" + " + ".join(terms or ["0"]) + ") = 1)"
        if predicate == SH.node:
            return self.conforms(parameter, var, raw)
        raise AssertionError(predicate)  # pragma: no cover

    def class_join(self, shape: Node, var: str) -> str | None:
        """A join pattern for a nested shape that only says sh:class C (faster than FILTER EXISTS)."""
        shapes = self.shapes
        predicates = set(shapes.predicates(shape, None)) - {RDF.type}
        classes = list(shapes.objects(shape, SH["class"]))
        if predicates != {SH["class"]} or len(classes) != 1 or shapes.value(shape, SH.path) is not None:
            return None
        return self.instance_of(var, classes[0])

    def conforms(self, shape: Node, var: str, raw: bool) -> str:
        """True when `var` conforms to the (nested) shape: all its constraints hold."""
        shapes = self.shapes
        if shapes.value(shape, SH.sparql) is not None:
            raise UnsupportedShapeError([f"{_show(shapes, shape)}: sh:sparql in a nested shape"])
        tests: list[str] = []
        path = shapes.value(shape, SH.path)
        if path is not None:
            tests.append(self.property_conforms(shape, path, var))
        else:
            for predicate, parameter in _pairs(shapes, shape):
                if predicate in _VALUE_PARAMETERS:
                    assert isinstance(predicate, URIRef)
                    tests.append(self.value_test(shape, predicate, parameter, var, raw, nested=True))
            for prop in _objects(shapes, shape, SH.property):
                if not _deactivated(shapes, prop):
                    prop_path = shapes.value(prop, SH.path)
                    if prop_path is None:
                        raise UnsupportedShapeError([f"{_show(shapes, prop)}: a property shape without sh:path"])
                    tests.append(self.property_conforms(prop, prop_path, var))
            if _true(shapes.value(shape, SH.closed)):
                allowed = self.closed_allowed(shape)
                p, o = self.fresh("p"), self.fresh("o")
                tests.append(f"NOT EXISTS {{ {var} {p} {o} . FILTER ({p} NOT IN ({', '.join(allowed)})) }}")
        if _deactivated(shapes, shape):
            return "true"
        return "(" + " && ".join(tests or ["true"]) + ")"

    def property_conforms(self, shape: Node, path: Node, var: str) -> str:
        """True when `var`'s values along the nested property shape's path satisfy all its constraints."""
        shapes = self.shapes
        if shapes.value(shape, SH.sparql) is not None or shapes.value(shape, SH.qualifiedValueShape) is not None:
            raise UnsupportedShapeError([f"{_show(shapes, shape)}: sh:sparql or sh:qualifiedValueShape in a "
                                         "nested property shape"])
        raw = self.preserved_path(path)
        tests: list[str] = []
        minimum = shapes.value(shape, SH.minCount)
        maximum = shapes.value(shape, SH.maxCount)
        if minimum is not None and int(minimum) > 0:  # type: ignore[call-overload]
            n = int(minimum)  # type: ignore[call-overload]
            if n > 4:
                raise UnsupportedShapeError([f"{_show(shapes, shape)}: a nested sh:minCount above 4"])
            found = [self.fresh("v") for _ in range(n)]
            patterns = " ".join(self.values(var, path, v) for v in found)
            distinct = " && ".join(f"!sameTerm({a}, {b})" for a, b in itertools.combinations(found, 2)) or "true"
            tests.append(f"EXISTS {{ {patterns} FILTER ({distinct}) }}")
        if maximum is not None:
            n = int(maximum)  # type: ignore[call-overload]
            if n > 3:
                raise UnsupportedShapeError([f"{_show(shapes, shape)}: a nested sh:maxCount above 3"])
            found = [self.fresh("v") for _ in range(n + 1)]
            patterns = " ".join(self.values(var, path, v) for v in found)
            distinct = " && ".join(f"!sameTerm({a}, {b})" for a, b in itertools.combinations(found, 2)) or "true"
            tests.append(f"NOT EXISTS {{ {patterns} FILTER ({distinct}) }}")
        value = self.fresh("v")
        checks = [self.value_test(shape, predicate, parameter, value, raw, nested=True)  # type: ignore[arg-type]
                  for predicate, parameter in _pairs(shapes, shape)
                  if predicate in _VALUE_PARAMETERS and predicate != SH.hasValue]
        if checks:
            tests.append(f"NOT EXISTS {{ {self.values(var, path, value)} FILTER (!({' && '.join(checks)})) }}")
        for expected in _objects(shapes, shape, SH.hasValue):
            other = self.fresh("v")
            tests.append(f"EXISTS {{ {self.values(var, path, other)} FILTER ({self.same_term(other, expected, raw)}) }}")
        unique = shapes.value(shape, SH.uniqueLang)
        if _true(unique):
            a, b = self.fresh("v"), self.fresh("v")
            tests.append(f"NOT EXISTS {{ {self.values(var, path, a)} {self.values(var, path, b)} FILTER (!sameTerm({a}, {b})"
                         f" && LANG({a}) != \"\" && LCASE(LANG({a})) = LCASE(LANG({b}))) }}")
        for predicate in (SH.lessThan, SH.lessThanOrEquals):
            for other_path in _objects(shapes, shape, predicate):
                a, b = self.fresh("v"), self.fresh("v")
                operator = "<" if predicate == SH.lessThan else "<="
                tests.append(f"NOT EXISTS {{ {self.values(var, path, a)} {var} <{other_path}> {b} . "
                             f"FILTER (!COALESCE({self.comparable(a, raw)} {operator} {self.comparable(b, False)}, "
                             f"false)) }}")
        for other_path in _objects(shapes, shape, SH.equals):
            a, b = self.fresh("v"), self.fresh("v")
            tests.append(f"NOT EXISTS {{ {self.values(var, path, a)} FILTER NOT EXISTS {{ {var} <{other_path}> {a} }} }}")
            tests.append(f"NOT EXISTS {{ {var} <{other_path}> {b} FILTER NOT EXISTS {{ {self.values(var, path, b)} }} }}")
        for other_path in _objects(shapes, shape, SH.disjoint):
            a = self.fresh("v")
            tests.append(f"NOT EXISTS {{ {self.values(var, path, a)} {var} <{other_path}> {a} . }}")
        for prop in _objects(shapes, shape, SH.property):
            raise UnsupportedShapeError([f"{_show(shapes, shape)}: sh:property on a nested property shape ({prop.n3()})"])
        return "(" + " && ".join(tests or ["true"]) + ")"

    def comparable(self, var: str, raw: bool) -> str:
        """pySHACL compares IRIs by their text in sh:lessThan."""
        return f"IF(isIRI({var}), STR({var}), {self.numeric(var, raw)})"

    def closed_allowed(self, shape: Node) -> list[str]:
        shapes = self.shapes
        allowed = {f"<{p}>" for prop in shapes.objects(shape, SH.property)
                   for p in [shapes.value(prop, SH.path)] if isinstance(p, URIRef)}
        ignored = shapes.value(shape, SH.ignoredProperties)
        if ignored is not None:
            allowed |= {f"<{p}>" for p in _list(shapes, ignored)}
        return sorted(allowed) or ["<urn:kgtool:none>"]


def _deactivated(shapes: Graph, shape: Node) -> bool:
    value = shapes.value(shape, SH.deactivated)
    return _true(value)


# ------------------------------------------------------------------------------------------------ SHACL-SPARQL text

_STRINGS = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|'
                      r"'(?:[^'\\\n]|\\.)*'|<[^<>\"{}|^`\\\s]*>|#[^\n]*")


def _mask(text: str) -> str:
    """The query with strings, IRIs and comments blanked out, for finding its structure."""
    return _STRINGS.sub(lambda m: " " * len(m.group(0)), text)


@dataclass(frozen=True)
class _SelectConstraint:
    node: Node
    text: str  # the query with prefixes, $PATH and $this resolved and the focus placeholder inserted
    messages: tuple[Literal, ...]
    variables: tuple[str, ...]


def _prefixes(shapes: Graph, constraint: Node) -> str:
    declared: dict[str, str] = {}
    seen: set[Node] = set()
    todo = list(shapes.objects(constraint, SH.prefixes))
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for declaration in shapes.objects(node, SH.declare):
            prefix, namespace = shapes.value(declaration, SH.prefix), shapes.value(declaration, SH.namespace)
            if prefix is not None and namespace is not None:
                declared[str(prefix)] = str(namespace)
        todo.extend(shapes.objects(node, OWL.imports))
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in sorted(declared.items()))


FOCUS_MARK = "#KGTOOL-FOCUS#"
_NOT_EXISTS = re.compile(r"\bFILTER\s+NOT\s+EXISTS\s*\{", re.IGNORECASE)
_NOT_PLAIN = re.compile(r"\b(FILTER|OPTIONAL|UNION|BIND|VALUES|GRAPH|MINUS|SERVICE|EXISTS|SELECT)\b", re.IGNORECASE)


def _closing(masked: str, opening: int) -> int:
    """The index of the brace that closes the one at `opening`."""
    depth = 0
    for index in range(opening, len(masked)):
        if masked[index] == "{":
            depth += 1
        elif masked[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise UnsupportedShapeError(["a SPARQL constraint with unbalanced braces"])


def _minus_for_not_exists(text: str) -> str:
    """`FILTER NOT EXISTS { P }` at the top of the WHERE clause, P plain triple patterns that use ?this,
    as `MINUS { P }` at its end: the same solutions (P binds every variable it shares, and ?this is bound
    in every solution), but Oxigraph plans a MINUS as one anti-join where it rescans a multi-pattern
    NOT EXISTS once per solution (oxigraph issues #885, #1951)."""
    masked = _mask(text)
    where = masked.find("{")
    end = _closing(masked, where)
    moved: list[tuple[int, int, str]] = []
    for found in _NOT_EXISTS.finditer(masked, where, end):
        depth = masked[where:found.start()].count("{") - masked[where:found.start()].count("}")
        opening = found.end() - 1
        closing = _closing(masked, opening)
        inner = masked[opening + 1:closing]
        if depth != 1 or "{" in inner or _NOT_PLAIN.search(inner) or not re.search(r"\?this\b", inner):
            continue
        moved.append((found.start(), closing + 1, text[opening + 1:closing]))
    if not moved:
        return text
    pieces, last = [], 0
    for start, stop, _ in moved:
        pieces.append(text[last:start])
        last = stop
    pieces.append(text[last:end])
    pieces += [f" MINUS {{{inner}}}" for _, _, inner in moved]
    pieces.append(text[end:])
    return "".join(pieces)


def _select_constraint(shapes: Graph, shape: Node, constraint: Node, path: Node | None) -> _SelectConstraint:
    where = _show(shapes, shape)
    select = shapes.value(constraint, SH.select)
    problems = []
    if select is None:
        ask = shapes.value(constraint, SH.ask)
        raise UnsupportedShapeError([f"{where}: a SPARQL constraint without sh:select"
                                     + (" (sh:ask is for constraint components)" if ask is not None else "")])
    text = str(select)
    masked = _mask(text)
    for keyword in ("LIMIT", "OFFSET", "VALUES", "MINUS", "SERVICE", "GROUP", "HAVING"):
        if re.search(rf"(?<![\w:?$]){keyword}\b", masked, re.IGNORECASE):
            problems.append(f"{where}: a SPARQL constraint using {keyword} cannot be run once for all focus nodes")
    if re.search(r"(?<![\w:?$])(COUNT|SUM|AVG|SAMPLE|GROUP_CONCAT|MIN|MAX)\s*\(", masked, re.IGNORECASE):
        problems.append(f"{where}: a SPARQL constraint with an aggregate cannot be run once for all focus nodes")
    if len(re.findall(r"(?<![\w:?$])SELECT\b", masked, re.IGNORECASE)) != 1:
        problems.append(f"{where}: a SPARQL constraint with a subquery cannot be run once for all focus nodes")
    for variable in ("currentShape", "shapesGraph"):
        if re.search(rf"\${variable}\b", masked):
            problems.append(f"{where}: a SPARQL constraint using ${variable}")
    if re.search(r"\$PATH\b", masked) and path is None:
        problems.append(f"{where}: $PATH in a SPARQL constraint of a node shape")
    if re.search(r"\?kgtool_\w+", masked):
        problems.append(f"{where}: a SPARQL constraint using variables named ?kgtool_*")
    if problems:
        raise UnsupportedShapeError(problems)
    brace = masked.find("{")
    if brace < 0:
        raise UnsupportedShapeError([f"{where}: a SPARQL constraint with no WHERE clause"])
    head = masked[:brace]
    match = re.search(r"\bSELECT\b\s*(DISTINCT\b|REDUCED\b)?", head, re.IGNORECASE)
    if match is None:
        raise UnsupportedShapeError([f"{where}: sh:select is not a SELECT query"])
    projection = head[match.end():]
    variables = tuple(dict.fromkeys(re.findall(r"[?$](\w+)", re.sub(r"\([^)]*\bAS\b", "", projection,
                                                                     flags=re.IGNORECASE))))
    as_variables = tuple(re.findall(r"\bAS\s+[?$](\w+)", projection, re.IGNORECASE))
    star = "*" in projection
    # resolve $this and $PATH, and put the focus nodes first in the WHERE clause
    pieces = []
    last = 0
    for found in re.finditer(r"[?$]this\b|\$PATH\b", masked):
        pieces.append(text[last:found.start()])
        pieces.append("?this" if found.group(0).endswith("this") else _path(shapes, path) if path is not None else "")
        last = found.end()
    pieces.append(text[last:])
    resolved = _minus_for_not_exists("".join(pieces))
    masked = _mask(resolved)
    brace = masked.find("{")
    head = resolved[:brace]
    if not star and "this" not in variables + as_variables:
        selected = re.search(r"\bSELECT\b\s*(DISTINCT\b|REDUCED\b)?", head, re.IGNORECASE)
        assert selected is not None
        head = head[:selected.end()] + " ?this " + head[selected.end():]
    body = resolved[brace + 1:]
    query = _prefixes(shapes, constraint) + head + "{ " + FOCUS_MARK + "\n" + body
    messages = tuple(sorted((m for m in shapes.objects(constraint, SH.message) if isinstance(m, Literal)), key=str))
    return _SelectConstraint(constraint, query, messages, tuple(v for v in variables + as_variables))


# ------------------------------------------------------------------------------------------------ the plan

@dataclass(frozen=True)
class _Flag:
    test: str  # true when the value fails the constraint
    candidate: str | None  # true when pySHACL's datatype test must decide (checked in Python)
    component: URIRef
    parameter: Node


@dataclass
class _Shared:
    values: dict[str, list[tuple[Any, Any, list[_Flag]]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Context:
    focus: str  # a subquery binding ?this to each focus node once
    targets: str  # a graph pattern true for ?this when it is a focus node (for FILTER EXISTS)


@dataclass
class _ShapeInfo:
    node: Node
    targets: list[tuple[URIRef, Node]]
    path: Node | None
    severity: URIRef
    messages: list[Literal]


class ShapesPlan:
    """A shapes graph read once: what to run, what it needs from the data, and what it cannot do."""

    def __init__(self, shapes: Graph) -> None:
        self.shapes = shapes
        self.problems: list[str] = []
        self.top: list[_ShapeInfo] = []
        self.sparql: dict[tuple[Node, Node], _SelectConstraint] = {}
        preserved: set[str] = set()
        visited: set[Node] = set()
        shape_nodes = self._shape_nodes()
        for shape in shape_nodes:
            targets = self._targets(shape)
            if not targets or _deactivated(shapes, shape):
                continue
            self.top.append(self._info(shape, targets))
        for shape in shape_nodes:
            self._check(shape, visited, preserved)
        self._custom_components(shape_nodes)
        if self.problems:
            raise UnsupportedShapeError(sorted(set(self.problems)))
        self.preserved = frozenset(preserved)

    def _shape_nodes(self) -> list[Node]:
        shapes = self.shapes
        found: set[Node] = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(RDF.type, SH.PropertyShape))
        for target in _TARGETS:
            found |= set(shapes.subjects(target, None))
        found |= set(shapes.objects(None, SH.property)) | set(shapes.objects(None, SH.node))
        found |= set(shapes.objects(None, SH.qualifiedValueShape)) | set(shapes.objects(None, SH["not"]))
        for logical in (SH["and"], SH["or"], SH.xone):
            for head in shapes.objects(None, logical):
                found |= set(Collection(shapes, head))
        return sorted(found, key=lambda n: (isinstance(n, BNode), str(n)))

    def _targets(self, shape: Node) -> list[tuple[URIRef, Node]]:
        shapes = self.shapes
        targets: list[tuple[URIRef, Node]] = [(kind, t) for kind in (SH.targetClass, SH.targetNode,
                                                                    SH.targetSubjectsOf, SH.targetObjectsOf)
                                              for t in _objects(shapes, shape, kind)]
        if (shape, RDF.type, RDFS.Class) in shapes or (shape, RDF.type, OWL.Class) in shapes:
            targets.append((SH.targetClass, shape))
        return targets

    def _info(self, shape: Node, targets: list[tuple[URIRef, Node]]) -> _ShapeInfo:
        shapes = self.shapes
        severity = shapes.value(shape, SH.severity)
        messages = [m for m in shapes.objects(shape, SH.message) if isinstance(m, Literal)]
        return _ShapeInfo(shape, targets, shapes.value(shape, SH.path),
                          severity if isinstance(severity, URIRef) else SH.Violation, messages)

    def _check(self, shape: Node, visited: set[Node], preserved: set[str]) -> None:
        shapes = self.shapes
        if shape in visited:
            return
        visited.add(shape)
        where = _show(shapes, shape)
        path = shapes.value(shape, SH.path)
        for predicate in sorted(set(shapes.predicates(shape, None)), key=str):
            if str(predicate).startswith(_SH) and predicate not in _KNOWN:
                self.problems.append(f"{where}: {_show(shapes, predicate)}")
        disjoint = shapes.value(shape, SH.qualifiedValueShapesDisjoint)
        if _true(disjoint):
            self.problems.append(f"{where}: sh:qualifiedValueShapesDisjoint true")
        if path is None:
            for predicate in (SH.minCount, SH.maxCount, SH.uniqueLang, SH.qualifiedValueShape) + tuple(_PAIR_PARAMETERS):
                if shapes.value(shape, predicate) is not None:
                    self.problems.append(f"{where}: {_show(shapes, predicate)} on a node shape (it needs sh:path)")
        else:
            try:
                _path(shapes, path)
            except UnsupportedShapeError as error:
                self.problems.extend(error.problems)
            lexical = any(shapes.value(shape, p) is not None for p in (SH.pattern, SH.minLength, SH.maxLength))
            retyped = any(str(d) in RETYPED for d in shapes.objects(shape, SH.datatype))
            if isinstance(path, URIRef) and (lexical or retyped):
                preserved.add(str(path))
            if shapes.value(shape, SH.closed) is not None:
                self.problems.append(f"{where}: sh:closed on a property shape")
        for sparql in shapes.objects(shape, SH.sparql):
            if _deactivated(shapes, sparql):
                continue
            try:
                self.sparql[(shape, sparql)] = _select_constraint(shapes, shape, sparql, path)
            except UnsupportedShapeError as error:
                self.problems.extend(error.problems)
            for predicate in set(shapes.predicates(sparql, None)):
                if str(predicate).startswith(_SH) and predicate not in (SH.select, SH.prefixes, SH.message,
                                                                        SH.deactivated, SH.severity):
                    self.problems.append(f"{where}: {_show(shapes, predicate)} in a SPARQL constraint")
        if path is not None and shapes.value(shape, SH.property) is not None:
            self.problems.append(f"{where}: sh:property on a property shape")
        for child in itertools.chain(shapes.objects(shape, SH.property), shapes.objects(shape, SH.node),
                                     shapes.objects(shape, SH.qualifiedValueShape), shapes.objects(shape, SH["not"]),
                                     *(Collection(shapes, head) for logical in (SH["and"], SH["or"], SH.xone)
                                       for head in shapes.objects(shape, logical))):
            self._check(child, visited, preserved)
        self._nested_sparql(shape)

    def _nested_sparql(self, shape: Node) -> None:
        """SPARQL constraints are run for targeted shapes and their sh:property shapes only."""
        shapes = self.shapes
        if shapes.value(shape, SH.sparql) is None:
            return
        for parent_predicate in (SH.node, SH.qualifiedValueShape, SH["not"]):
            for parent in shapes.subjects(parent_predicate, shape):
                self.problems.append(f"{_show(shapes, shape)}: sh:sparql in a shape used by "
                                     f"{_show(shapes, parent_predicate)} of {_show(shapes, parent)}")
        for logical in (SH["and"], SH["or"], SH.xone):
            for parent, head in shapes.subject_objects(logical):
                if shape in set(Collection(shapes, head)):
                    self.problems.append(f"{_show(shapes, shape)}: sh:sparql in a shape used by "
                                         f"{_show(shapes, logical)} of {_show(shapes, parent)}")

    def _custom_components(self, shape_nodes: list[Node]) -> None:
        shapes = self.shapes
        for component in sorted(shapes.subjects(RDF.type, SH.ConstraintComponent), key=str):
            for parameter in shapes.objects(component, SH.parameter):
                path = shapes.value(parameter, SH.path)
                users = [s for s in shape_nodes if path is not None and shapes.value(s, path) is not None]
                if users and path is not None:
                    self.problems.append(f"{_show(shapes, users[0])}: the constraint component "
                                         f"{_show(shapes, component)} (parameter {_show(shapes, path)})")
        if any(True for _ in shapes.subjects(SH.target, None)):
            self.problems.append("sh:target (SPARQL-based targets)")

    # -- running

    def validate(self, store: Any, *, source: Graph | None = None, union_of_graphs: bool = False) -> ValidationReport:
        """Run the compiled queries on an Oxigraph store (see `load_store`)."""
        if self.preserved:
            marked = {row["p"].value for row in store.query(
                f"SELECT ?p WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ <{LEXICAL_GRAPH}> <{PRESERVES}> ?p }} }}")}
            missing = sorted(self.preserved - marked)
            if missing:
                raise BadInputError(
                    "the store does not keep the original form of literals these shapes check: "
                    + ", ".join(f"<{m}>" for m in missing),
                    hint="load it with kgtool.shacl_sparql.load_store(..., preserve=plan.preserved): Oxigraph "
                         "stores xsd:nonNegativeInteger as xsd:integer")
        if union_of_graphs and self.preserved:
            raise BadInputError("union_of_graphs cannot be combined with shapes that check original literal forms",
                                hint="load the data into the default graph with load_store")
        compiler = _Compiler(self.shapes, store, self.preserved, union_of_graphs, source)
        results: list[_Result] = []
        shared = _Shared()
        for info in self.top:
            results += self._run_shape(compiler, info, shared)
        results += self._run_shared(compiler, shared)
        self._add_details(compiler, results, depth=0)
        if source is not None:
            results = [_restore(source, r) for r in results]
        return _report(self.shapes, results)

    def _run_shape(self, compiler: _Compiler, info: _ShapeInfo, shared: _Shared) -> list[_Result]:
        """A targeted shape: its own constraints, then those of its property shapes.

        Queries start from whichever side is smaller in practice. Constraints on the values of a
        predicate are not run shape by shape: all of them are collected (`shared`) and each predicate's
        triples are scanned once for every failure any shape looks for, and the few failing rows are
        then kept for the shapes whose focus nodes they belong to. Constraints that need every focus node
        (sh:minCount, a node's own constraints) start from the focus nodes; all sh:minCount 1 of a shape's
        property shapes share one query."""
        shapes = self.shapes
        if all(kind == SH.targetClass for kind, _ in info.targets) and not any(
                compiler.has_instances(cls) for _, cls in info.targets):
            return []  # no focus node: nothing to report
        targets = compiler.targets(info.targets)
        once = len(info.targets) == 1 and (info.targets[0][0] == SH.targetNode or (
            info.targets[0][0] == SH.targetClass and len(compiler.closure(info.targets[0][1])) == 1))
        focus = ("{ " + targets + " }") if once else ("{ SELECT DISTINCT ?this WHERE { " + targets + " } }")
        context = _Context(focus, targets)
        if info.path is not None:
            return self._run_constraints(compiler, info, context, info.path, shared)
        results = self._run_constraints(compiler, info, context, None, shared)
        children = []
        for prop in sorted(shapes.objects(info.node, SH.property), key=str):
            if _deactivated(shapes, prop):
                continue
            child = self._info(prop, [])
            if child.path is None:
                raise UnsupportedShapeError([f"{_show(shapes, prop)}: a property shape without sh:path"])
            children.append(child)
        # every sh:minCount 1 on a predicate, for all property shapes at once
        present: dict[str, list[_ShapeInfo]] = {}
        for child in children:
            minimum = shapes.value(child.node, SH.minCount)
            if isinstance(child.path, URIRef) and minimum is not None and int(minimum) == 1:  # type: ignore[call-overload]
                present.setdefault(str(child.path), []).append(child)
        if present:
            keys = " ".join(f"<{p}>" for p in sorted(present))
            text = (f"SELECT ?this ?kgtool_k WHERE {{ {focus} VALUES ?kgtool_k {{ {keys} }} "
                    f"FILTER NOT EXISTS {{ ?this ?kgtool_k ?kgtool_v }} }}")
            for row in compiler.query(text):
                for child in present[row["kgtool_k"].value]:
                    results.append(_Result(_rdflib(row["this"]), child.path, None, child.node,
                                           SH.MinCountConstraintComponent, child.severity, child.messages))
        for child in children:
            results += self._run_constraints(compiler, child, context, child.path, shared,
                                             minimum_done=child in present.get(str(child.path), []))
        return results

    def _value_flags(self, compiler: _Compiler, shape: Node, path: Node | None, raw: bool) -> list[_Flag]:
        """One flag per value constraint parameter of the shape (and a candidate test for sh:datatype)."""
        flags: list[_Flag] = []
        for predicate, parameter in _pairs(self.shapes, shape):
            if predicate not in _VALUE_PARAMETERS or (predicate == SH.hasValue and path is not None):
                continue
            assert isinstance(predicate, URIRef)
            test = compiler.value_test(shape, predicate, parameter, "?value", raw, nested=False)
            candidate = None
            if predicate == SH.datatype:
                assert isinstance(parameter, URIRef)
                certain = _CERTAIN.get(str(parameter))
                if str(parameter) in RDFLIB_CHECKED and certain != "":
                    shape_of = f"REGEX(STR(?value), \"{certain}\")" if certain else "false"
                    candidate = f"COALESCE({test} && !({shape_of}), false)"
            flags.append(_Flag(f"!COALESCE({test}, false)", candidate, _COMPONENT[predicate], parameter))
        return flags

    def _read_flags(self, row: Any, flags: list[tuple[_Flag, str, str | None]], emit: Any) -> None:
        for flag, variable, candidate in flags:
            failed = _flag(row[variable])
            if candidate is not None and _flag(row[candidate]):
                assert isinstance(flag.parameter, URIRef)
                failed = not datatype_conforms(_rdflib(row["value"]), flag.parameter)
            if failed:
                emit(flag.component, flag.parameter)

    def _run_constraints(self, compiler: _Compiler, info: _ShapeInfo, context: _Context, path: Node | None,
                         shared: _Shared, *, minimum_done: bool = False) -> list[_Result]:
        shapes, shape = self.shapes, info.node
        focus = context.focus
        results: list[_Result] = []
        raw = compiler.preserved_path(path)
        flags = self._value_flags(compiler, shape, path, raw)
        if flags and isinstance(path, URIRef):
            shared.values.setdefault(str(path), []).append((info, context, flags))
        elif flags:
            value_pattern = compiler.values("?this", path, "?value") if path is not None else "BIND (?this AS ?value)"
            named = [(flag, f"kgtool_f{i}", f"kgtool_c{i}" if flag.candidate else None) for i, flag in enumerate(flags)]
            binds = " ".join(f"BIND ({flag.test} AS ?{v})" + (f" BIND ({flag.candidate} AS ?{c})" if c else "")
                             for flag, v, c in named)
            condition = " || ".join([f"?{v}" for _, v, _ in named] + [f"?{c}" for _, _, c in named if c])
            selected = " ".join([f"?{v}" for _, v, _ in named] + [f"?{c}" for _, _, c in named if c])
            text = f"SELECT DISTINCT ?this ?value {selected} WHERE {{ {focus} {value_pattern} {binds} FILTER ({condition}) }}"
            for row in compiler.query(text):
                self._read_flags(row, named, lambda component, parameter, row=row: results.append(
                    _Result(_rdflib(row["this"]), path, _rdflib(row["value"]), shape, component, info.severity,
                            info.messages, parameter=parameter)))
        if path is None:
            closed = shapes.value(shape, SH.closed)
            if _true(closed):
                allowed = compiler.closed_allowed(shape)
                text = (f"SELECT ?this ?kgtool_p ?value WHERE {{ {focus} ?this ?kgtool_p ?value . "
                        f"FILTER (?kgtool_p NOT IN ({', '.join(allowed)})) }}")
                results += [_Result(_rdflib(row["this"]), _rdflib(row["kgtool_p"]), _rdflib(row["value"]), shape,
                                    SH.ClosedConstraintComponent, info.severity, info.messages)
                            for row in compiler.query(text)]
        else:
            results += self._run_path_constraints(compiler, info, context, path, shared, minimum_done=minimum_done)
        for sparql in sorted(shapes.objects(shape, SH.sparql), key=str):
            constraint = self.sparql.get((shape, sparql))
            if constraint is not None:
                results += self._run_sparql(compiler, info, focus, path, constraint)
        return results

    def _run_path_constraints(self, compiler: _Compiler, info: _ShapeInfo, context: _Context, path: Node,
                              shared: _Shared, *, minimum_done: bool) -> list[_Result]:
        """sh:hasValue, the counts, sh:uniqueLang and the property-pair constraints of a property shape."""
        shapes, shape = self.shapes, info.node
        focus, targets = context.focus, context.targets
        raw = compiler.preserved_path(path)
        simple = isinstance(path, URIRef)
        value_pattern = compiler.values("?this", path, "?value")
        results: list[_Result] = []

        def result(focus_node: Any, value: Any, component: URIRef) -> _Result:
            return _Result(_rdflib(focus_node), path, None if value is None else _rdflib(value), shape,
                           component, info.severity, info.messages)

        def scanned(select: str, inner: str, tail: str = "") -> str:
            """`inner` (a SELECT's WHERE clause, then `tail`) over the predicate's triples, kept for focus
            nodes only; over the focus nodes' values when the path is not a predicate."""
            if simple:
                return (f"SELECT {select} WHERE {{ {{ SELECT {select} WHERE {{ {inner} }} {tail} }} "
                        f"FILTER EXISTS {{ {targets} }} }}")
            return f"SELECT {select} WHERE {{ {{ SELECT {select} WHERE {{ {focus} {inner} }} {tail} }} }}"

        for expected in _objects(shapes, shape, SH.hasValue):
            test = compiler.same_term("?value", expected, raw)
            text = f"SELECT ?this WHERE {{ {focus} MINUS {{ {value_pattern} FILTER ({test}) }} }}"
            results += [result(row["this"], None, SH.HasValueConstraintComponent) for row in compiler.query(text)]
        minimum, maximum = shapes.value(shape, SH.minCount), shapes.value(shape, SH.maxCount)
        low = int(minimum) if minimum is not None else 0  # type: ignore[call-overload]
        high = int(maximum) if maximum is not None else None  # type: ignore[call-overload]
        if low == 1 and not minimum_done:
            text = f"SELECT ?this WHERE {{ {focus} MINUS {{ {value_pattern} }} }}"
            results += [result(row["this"], None, SH.MinCountConstraintComponent) for row in compiler.query(text)]
        elif low > 1:
            text = (f"SELECT ?this ?kgtool_n WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?value) AS ?kgtool_n) "
                    f"WHERE {{ {focus} OPTIONAL {{ {value_pattern} }} }} GROUP BY ?this }} FILTER (?kgtool_n < {low}) }}")
            results += [result(row["this"], None, SH.MinCountConstraintComponent) for row in compiler.query(text)]
        unique = shapes.value(shape, SH.uniqueLang)
        unique_lang = _true(unique)
        if simple and (high is not None and high >= 1 or unique_lang) and compiler.single_valued(str(path)):
            high = None if high is not None and high >= 1 else high  # no subject has two values: nothing to find
            unique_lang = False
        if high is not None:
            if high == 0:
                text = scanned("DISTINCT ?this", value_pattern)
            elif high == 1:
                other = compiler.values("?this", path, "?kgtool_b")
                text = scanned("DISTINCT ?this", f"{value_pattern} {other} FILTER (!sameTerm(?value, ?kgtool_b))")
            else:
                text = scanned("?this", value_pattern, f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {high})")
            results += [result(row["this"], None, SH.MaxCountConstraintComponent) for row in compiler.query(text)]
        for qualified in sorted(shapes.objects(shape, SH.qualifiedValueShape), key=str):
            q_min, q_max = shapes.value(shape, SH.qualifiedMinCount), shapes.value(shape, SH.qualifiedMaxCount)
            join = compiler.class_join(qualified, "?value")
            conforming = f"{value_pattern} {join}" if join else (
                f"{value_pattern} FILTER ({compiler.conforms(qualified, '?value', raw)})")
            if q_max is not None and not (simple and int(q_max) >= 1 and compiler.single_valued(str(path))):  # type: ignore[call-overload]
                text = scanned("?this", conforming,
                               f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {int(q_max)})")  # type: ignore[call-overload]
                results += [result(row["this"], None, SH.QualifiedMaxCountConstraintComponent)
                            for row in compiler.query(text)]
            if q_min is not None and int(q_min) > 0:  # type: ignore[call-overload]
                if int(q_min) == 1:  # type: ignore[call-overload]
                    text = f"SELECT ?this WHERE {{ {focus} MINUS {{ {conforming} }} }}"
                else:
                    text = (f"SELECT ?this WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?value) AS ?kgtool_n) WHERE "
                            f"{{ {focus} OPTIONAL {{ {conforming} }} }} GROUP BY ?this }} "
                            f"FILTER (?kgtool_n < {int(q_min)}) }}")  # type: ignore[call-overload]
                results += [result(row["this"], None, SH.QualifiedMinCountConstraintComponent)
                            for row in compiler.query(text)]
        if unique_lang:
            other = compiler.values("?this", path, "?kgtool_b")
            text = scanned("DISTINCT ?this ?kgtool_lang",
                           f"{value_pattern} {other} FILTER (isLiteral(?value) && LANG(?value) != \"\" && "
                           f"!sameTerm(?value, ?kgtool_b) && LCASE(LANG(?value)) = LCASE(LANG(?kgtool_b))) "
                           f"BIND (LCASE(LANG(?value)) AS ?kgtool_lang)")
            results += [result(row["this"], None, SH.UniqueLangConstraintComponent) for row in compiler.query(text)]
        for predicate in (SH.lessThan, SH.lessThanOrEquals):
            operator = "<" if predicate == SH.lessThan else "<="
            for other_path in _objects(shapes, shape, predicate):
                text = scanned("DISTINCT ?this ?value ?kgtool_o",
                               f"{value_pattern} ?this <{other_path}> ?kgtool_o . FILTER (!COALESCE("
                               f"{compiler.comparable('?value', raw)} {operator} {compiler.comparable('?kgtool_o', False)}"
                               f", false))")
                results += [result(row["this"], row["value"], _COMPONENT[predicate]) for row in compiler.query(text)]
        for other_path in _objects(shapes, shape, SH.equals):
            text = (f"SELECT DISTINCT ?this ?value WHERE {{ {{ {focus} {value_pattern} FILTER NOT EXISTS "
                    f"{{ ?this <{other_path}> ?value }} }} UNION {{ {focus} ?this <{other_path}> ?value . "
                    f"FILTER NOT EXISTS {{ {value_pattern} }} }} }}")
            results += [result(row["this"], row["value"], SH.EqualsConstraintComponent) for row in compiler.query(text)]
        for other_path in _objects(shapes, shape, SH.disjoint):
            text = scanned("DISTINCT ?this ?value", f"{value_pattern} ?this <{other_path}> ?value .")
            results += [result(row["this"], row["value"], SH.DisjointConstraintComponent) for row in compiler.query(text)]
        return results

    def _add_details(self, compiler: _Compiler, results: list[_Result], depth: int) -> None:
        """pySHACL reports, under each sh:node failure (sh:detail), the value node's own results against
        the shape; kgtool.validate counts them as results too."""
        for item in results:
            if item.component != SH.NodeConstraintComponent or item.parameter is None or item.value is None:
                continue
            if depth > 20:
                raise UnsupportedShapeError([f"{_show(self.shapes, item.parameter)}: sh:node nested more than 20 deep"])
            if isinstance(item.value, BNode):
                raise UnsupportedShapeError([f"{_show(self.shapes, item.shape)}: sh:node failing on a blank node "
                                             "(its sh:detail results cannot be computed)"])
            nested = self._info(item.parameter, [(SH.targetNode, item.value)])
            shared = _Shared()
            item.details = self._run_shape(compiler, nested, shared) + self._run_shared(compiler, shared)
            self._add_details(compiler, item.details, depth + 1)

    def _run_shared(self, compiler: _Compiler, shared: _Shared) -> list[_Result]:
        """Each predicate's triples scanned once for the value constraints of every shape on it."""
        results: list[_Result] = []
        for predicate, jobs in sorted(shared.values.items()):
            path = URIRef(predicate)
            tests: dict[str, str] = {}
            memberships: dict[str, str] = {}
            plan: list[tuple[_ShapeInfo, str, list[tuple[_Flag, str, str | None]]]] = []
            for info, context, flags in jobs:
                named = []
                for flag in flags:
                    variable = tests.setdefault(flag.test, f"kgtool_f{len(tests)}")
                    candidate = tests.setdefault(flag.candidate, f"kgtool_f{len(tests)}") if flag.candidate else None
                    named.append((flag, variable, candidate))
                # whether the subject is a focus node of this shape, asked only when one of its tests fails
                failing = " || ".join(sorted({f"?{v}" for _, v, _ in named} | {f"?{c}" for _, _, c in named if c}))
                member = memberships.setdefault(f"IF({failing}, EXISTS {{ {context.targets} }}, false)",
                                                f"kgtool_m{len(memberships)}")
                plan.append((info, member, named))
            binds = " ".join(f"BIND ({test} AS ?{variable})" for test, variable in tests.items())
            condition = " || ".join(f"?{v}" for v in tests.values())
            members = " ".join(f"BIND ({test} AS ?{m})" for test, m in memberships.items())
            selected = " ".join(f"?{v}" for v in tests.values())
            pattern = compiler.values("?this", path, "?value")
            member_vars = " ".join("?" + m for m in memberships.values())
            if "EXISTS" in binds:  # costly tests depend on the value only: once per distinct value
                text = (f"SELECT DISTINCT ?this ?value {selected} {member_vars} WHERE {{ {{ SELECT ?value {selected} "
                        f"WHERE {{ {{ SELECT DISTINCT ?value WHERE {{ {pattern} }} }} {binds} FILTER ({condition}) }} }} "
                        f"{pattern} {members} }}")
            else:
                text = (f"SELECT ?this ?value {selected} {member_vars} WHERE {{ {{ SELECT DISTINCT ?this ?value "
                        f"{selected} WHERE {{ {pattern} {binds} FILTER ({condition}) }} }} {members} }}")
            for row in compiler.query(text):
                for info, member, named in plan:
                    if _flag(row[member]):
                        self._read_flags(row, named, lambda component, parameter, row=row, info=info: results.append(
                            _Result(_rdflib(row["this"]), path, _rdflib(row["value"]), info.node, component,
                                    info.severity, info.messages, parameter=parameter)))
        return results

    def _run_sparql(self, compiler: _Compiler, info: _ShapeInfo, focus: str, path: Node | None,
                    constraint: _SelectConstraint) -> list[_Result]:
        text = constraint.text.replace(FOCUS_MARK, focus)
        try:
            solutions = compiler.query(text)
        except SyntaxError as error:
            raise BadInputError(f"{_show(self.shapes, info.node)}: its SPARQL constraint does not parse: "
                                f"{' '.join(str(error).split())[:300]}") from None
        variables = [v.value for v in solutions.variables]
        seen: set[tuple[Any, ...]] = set()
        results: list[_Result] = []
        for solution in solutions:
            bound = {v: solution[v] for v in variables if solution[v] is not None}
            key = tuple(sorted((k, str(v)) for k, v in bound.items()))
            if key in seen:
                continue
            seen.add(key)
            focus_node = _rdflib(bound["this"])
            value_term = bound.get("value")
            value: Node | None = _rdflib(value_term) if value_term is not None else (
                focus_node if path is None else None)
            path_term = bound.get("path")
            result_path = _rdflib(path_term) if isinstance(path_term, ox.NamedNode) else path
            if "failure" in bound:
                value = focus_node if path is None else None
            formatted = {k: _rdflib(v) for k, v in bound.items() if k != "failure"}
            if compiler.source is not None and "value" in formatted:
                formatted["value"] = _original(compiler.source, focus_node, result_path, formatted["value"]) \
                    or formatted["value"]
            messages = [_format(m, formatted) for m in constraint.messages]
            messages += [_format(m, formatted) for m in info.messages if m not in constraint.messages]
            results.append(_Result(focus_node, result_path, value, info.node, SH.SPARQLConstraintComponent,
                                   info.severity, messages, constraint.node))
        return results


def _format(message: Literal, bound: dict[str, Node]) -> Literal:
    """pySHACL's substitution of {?var} and {$var} in SPARQL constraint messages (a plain literal)."""
    text = str(message)
    for name, value in bound.items():
        text = re.sub("{[?$]" + re.escape(name) + "}", _replacement(str(value)), text)
    return Literal(text)


def _replacement(text: str) -> Any:
    return lambda _match: text


def _original(source: Graph, focus: Node, path: Node | None, value: Node | None) -> Node | None:
    """The value as the source graph has it (Oxigraph canonicalises the literals it stores)."""
    if not isinstance(value, Literal) or not isinstance(path, URIRef) or not isinstance(focus, (URIRef, BNode)):
        return value
    candidates = [o for o in source.objects(focus, path) if isinstance(o, Literal)]
    if value in candidates:
        return value
    strings = (None, XSD.string)
    with _quiet_rdflib():
        matches = [o for o in candidates if str(o.language or "").lower() == str(value.language or "").lower()
                   and (str(o) == str(value) or o.eq(value))
                   and (o.datatype == value.datatype or str(o.datatype) in NORMALISED
                        or (o.datatype in strings and value.datatype in strings))]
    return matches[0] if len(matches) == 1 else value


def _restore(source: Graph, result: _Result) -> _Result:
    result.value = _original(source, result.focus, result.path, result.value)
    return result


def _generic_message(result: _Result) -> Literal:
    name = str(result.component)[len(_SH):].replace("ConstraintComponent", "")
    return Literal(f"{name} constraint not satisfied by {result.value.n3() if result.value is not None else ''}"
                   .strip())


def _copy(shapes: Graph, report: Graph, node: Node) -> None:
    """Copy a blank node's description (a path, a nested shape) from the shapes graph to the report."""
    if not isinstance(node, BNode):
        return
    for p, o in shapes.predicate_objects(node):
        report.add((node, p, o))
        _copy(shapes, report, o)


def _report(shapes: Graph, found: list[_Result]) -> ValidationReport:
    graph = new_graph()
    report = BNode()
    graph.add((report, RDF.type, SH.ValidationReport))
    graph.add((report, SH.conforms, Literal(not found)))
    results: list[ValidationResult] = []

    def add(item: _Result) -> BNode:
        node = BNode()
        graph.add((node, RDF.type, SH.ValidationResult))
        graph.add((node, SH.focusNode, item.focus))
        if item.path is not None:
            graph.add((node, SH.resultPath, item.path))
            _copy(shapes, graph, item.path)
        if item.value is not None:
            graph.add((node, SH.value, item.value))
        graph.add((node, SH.sourceShape, item.shape))
        _copy(shapes, graph, item.shape)
        graph.add((node, SH.sourceConstraintComponent, item.component))
        graph.add((node, SH.resultSeverity, item.severity))
        if item.constraint is not None:
            graph.add((node, SH.sourceConstraint, item.constraint))
            _copy(shapes, graph, item.constraint)
        messages = item.messages or [_generic_message(item)]
        for message in messages:
            graph.add((node, SH.resultMessage, message))
        for detail in item.details:
            graph.add((node, SH.detail, add(detail)))
        results.append(ValidationResult(
            focus_node=item.focus, result_path=item.path, value=item.value, source_shape=item.shape,
            source_constraint_component=item.component, severity=_SEVERITIES.get(item.severity, Severity.VIOLATION),
            message=sorted(str(m) for m in messages)[0]))
        return node

    for item in found:
        graph.add((report, SH.result, add(item)))
    ordered = tuple(sorted(results, key=lambda r: (_ORDER[r.severity], str(r.source_shape), str(r.focus_node),
                                                   str(r.result_path), str(r.value))))
    return ValidationReport(not ordered, graph, ordered)


# ------------------------------------------------------------------------------------------------ entry point

def validate_sparql(data: Graph | Path | Sequence[Path] | Any, shapes: Graph | ShapesPlan, *,
                    union_of_graphs: bool = False) -> ValidationReport:
    """Validate `data` (an rdflib graph, RDF files, or a pyoxigraph Store loaded with `load_store`) against
    `shapes` (a shapes graph, or a `ShapesPlan` made from one to validate many graphs) with SPARQL on
    Oxigraph. The data should include the ontology, as for `kgtool.validate.validate`; results are the
    ones pySHACL gives."""
    plan = shapes if isinstance(shapes, ShapesPlan) else ShapesPlan(shapes)
    if isinstance(data, ox.Store):
        return plan.validate(data, union_of_graphs=union_of_graphs)
    if isinstance(data, Graph):
        return plan.validate(load_store(data, preserve=plan.preserved), source=data)
    paths = [data] if isinstance(data, (Path, str)) else list(data)
    return plan.validate(load_store(*[Path(p) for p in paths], preserve=plan.preserved))


__all__ = ["LEXICAL_GRAPH", "ShapesPlan", "UnsupportedShapeError", "datatype_conforms", "load_store",
           "validate_sparql"]
