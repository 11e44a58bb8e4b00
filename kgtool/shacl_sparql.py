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
queries the union instead. Other literals Oxigraph rewrites ("140.0"^^xsd:decimal as "140") are kept
as written in `<urn:kgtool:shacl-sparql:original>`, so that results read from files give values as
pySHACL gives them.

How it runs (`ShapesPlan.run`): what compiling depends on in the data (class hierarchies, which classes
have instances and which predicates are used) is asked first in a few queries; then every check is a
job, and the jobs run `runner.workers` at a time (Oxigraph releases the GIL while it evaluates, so
threads use every core; one worker per processor by default). Oxigraph's cost is mostly per row and per
index look-up, with no cost-based join ordering, so the queries are written for it: one scan per class
for focus nodes, a node's class tested with one look-up of its types, every test on the focus nodes of
a shape in one query, every value constraint on a predicate in one scan of it, EXISTS only around a
single pattern (around a group Oxigraph re-evaluates the group for every solution), counts that cannot
fail on a predicate no subject repeats skipped after one count.

The runner is an Oxigraph store (`OxigraphRunner`) or a SPARQL server (`kgtool.endpoint.EndpointRunner`,
rows converted to the same pyoxigraph terms). For a server, queries keep to the plainest forms
(`QueryRunner.portable`: one check a query, failures selected by FILTER alone, IRIs compared with `=`),
since Virtuoso 7 miscompiles or answers wrongly the others. A SPARQL constraint that is only
`$this PATH+ $this`, PATH made of IRIs, inverses, sequences and alternatives, fetches the steps of PATH in
one plain query and the nodes on a cycle are found here (strongly connected components), which gives
pySHACL's results on every runner: one pass over the edges instead of a transitive search from every focus
node (at a million triples, 0.6 s on Oxigraph became a few hundredths), and the only way on a server whose
transitive paths skip cycles (`QueryRunner.cycles` false: Virtuoso 7), where any other constraint that
looks for a cycle through a transitive path is refused. Where the server's store keeps
literals only in canonical form (`QueryRunner.retypes`: Oxigraph behind `kgtool serve`), sh:datatype of a
derived integer type (or xsd:dateTimeStamp) is checked on the value: a value written as an xsd:integer in
range passes there, the one thing such a server cannot tell (kgtool.validation says so to the user). On
any server, sh:pattern and the length constraints see numbers and date-times in the server's form.

A persistent store (`kgtool.cache.fill_store`) keeps a verbatim copy of every rewritten literal, whatever
its predicate (`EVERY_PREDICATE`, `verbatim_copies`), since the shapes are not known when it is filled;
language tags that Oxigraph lower-cases are recorded as written (`language_cases`), for results.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from .errors import BadInputError, ExternalComponentError
from .namespaces import OWL, RDF, RDFS, SH, XSD
from .store import new_graph
from .untrusted import check_rdf
from .validate import Severity, ValidationReport, ValidationResult, default_message, result_key

LEXICAL_GRAPH = "urn:kgtool:shacl-sparql:lexical"
RAW_DATATYPE = "urn:kgtool:shacl-sparql:lexical:"  # + the original datatype IRI
PRESERVES = "urn:kgtool:shacl-sparql:preserves"  # marker: <LEXICAL_GRAPH> <PRESERVES> <predicate> in that graph
ORIGINAL_GRAPH = "urn:kgtool:shacl-sparql:original"  # the other rewritten literals as written, for results
# preserve this "predicate" to keep a verbatim copy of every literal Oxigraph rewrites, whatever its predicate, in
# the lexical graph (what a persistent store keeps, for shapes not known when it is filled: kgtool.cache.fill_store)
EVERY_PREDICATE = "urn:kgtool:shacl-sparql:every-predicate"
# <ORIGINAL_GRAPH> <LANGUAGE_CASE> "en-GB" in ORIGINAL_GRAPH: the data writes the tag Oxigraph lower-cases so
LANGUAGE_CASE = "urn:kgtool:shacl-sparql:language-as-written"

_X = str(XSD)
INTEGER_TYPES = frozenset(_X + t for t in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger", "negativeInteger",
    "nonPositiveInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"))
# datatypes whose datatype IRI Oxigraph changes when it stores a literal
RETYPED = INTEGER_TYPES | {_X + "dateTime", _X + "dateTimeStamp"}
# datatypes whose lexical form Oxigraph may change
NORMALISED = RETYPED | {_X + t for t in ("decimal", "double", "float", "boolean")}
_NOT_NUMERIC = ("boolean", "dateTime", "dateTimeStamp")  # of NORMALISED (a long IN list costs Oxigraph much)


def _range(low: int | None, high: int | None) -> str:
    tests = ([f"{{v}} >= {low}"] if low is not None else []) + ([f"{{v}} <= {high}"] if high is not None else [])
    return " && ".join(tests) or "true"


# what a store that retypes literals (Oxigraph) keeps a datatype as, and the test of a value so stored
RETYPED_TO: dict[str, tuple[str, str]] = {
    _X + name: (_X + "integer", _range(low, high)) for name, (low, high) in {
        "int": (-2 ** 31, 2 ** 31 - 1), "long": (-2 ** 63, 2 ** 63 - 1), "short": (-2 ** 15, 2 ** 15 - 1),
        "byte": (-128, 127), "nonNegativeInteger": (0, None), "positiveInteger": (1, None),
        "negativeInteger": (None, -1), "nonPositiveInteger": (None, 0), "unsignedInt": (0, 2 ** 32 - 1),
        "unsignedLong": (0, 2 ** 64 - 1), "unsignedShort": (0, 2 ** 16 - 1), "unsignedByte": (0, 255)}.items()}
RETYPED_TO[_X + "dateTimeStamp"] = (_X + "dateTime", "TZ({v}) != \"\"")

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


class UnsupportedShapeError(BadInputError):
    """The shapes graph uses SHACL features the SPARQL fast path does not implement, or (`remote`) that a
    SPARQL server cannot be trusted to evaluate (exit 3)."""

    def __init__(self, problems: Sequence[str], *, remote: bool = False) -> None:
        self.problems = tuple(problems)
        what = ("these shapes cannot be checked on a SPARQL server" if remote else
                "the SPARQL validation engine does not support what these shapes use")
        super().__init__(what + ":\n  " + "\n  ".join(self.problems),
                         hint="validate a copy of the graph here (kgtool validate FILE), or leave these shapes "
                              "out (--shapes)"
                         if remote else "validate with pySHACL instead (--engine pyshacl)")


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

def read_ntriples(path: Path) -> bytes:
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
    if rdf_format in (ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD):  # no entity expansion, no remote @context
        check_rdf(path.read_bytes(), "xml" if rdf_format is ox.RdfFormat.RDF_XML else "json-ld", path=path)
    try:
        triples = (ox.Triple(q.subject, q.predicate, q.object) for q in
                   ox.parse(path=str(path), format=rdf_format, base_iri=path.resolve().as_uri()))
        return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    except (SyntaxError, ValueError, OSError, MemoryError) as error:
        raise BadInputError(f"malformed {rdf_format}: {' '.join(str(error).split())[:300]}", path=path) from None


_NT_LITERAL = re.compile(rb'(\S+) <([^>]*)> "((?:[^"\\]|\\.)*)"\^\^<([^>]*)> \.')


_NORMALISED_SUFFIX = re.compile(rb'"\^\^<http://www\.w3\.org/2001/XMLSchema#(?:'
                                + b"|".join(sorted(re.escape(t[len(_X):].encode()) for t in NORMALISED)) + rb")> \.")


def _verbatim_lines(data: bytes, preserve: frozenset[str], *, originals: bool) -> list[bytes]:
    """N-Quads lines with a verbatim copy of every literal whose form Oxigraph would change (one pass over
    the N-Triples for such literals): in the lexical graph for a preserved predicate (every predicate with
    EVERY_PREDICATE), and (`originals`) in the original graph for the others, to report values as written."""
    lines: list[bytes] = []
    every = EVERY_PREDICATE in preserve
    if preserve or originals:
        wanted = {p.encode() for p in preserve}
        for found in _NORMALISED_SUFFIX.finditer(data):
            if data[found.end():found.end() + 1].strip(b" \t") not in (b"", b"\n", b"\r"):
                continue  # not the end of a line: text inside a literal
            start = data.rfind(b"\n", 0, found.start()) + 1
            match = _NT_LITERAL.fullmatch(data, start, found.end())
            if match is None or not (originals or every or match.group(2) in wanted):
                continue
            subject, predicate, lexical, datatype = match.groups()
            graph = LEXICAL_GRAPH if every or predicate in wanted else ORIGINAL_GRAPH
            lines.append(b'%s <%s> "%s"^^<%s%s> <%s> .' % (subject, predicate, lexical, RAW_DATATYPE.encode(),
                                                           datatype, graph.encode()))
    for predicate in sorted(preserve):
        lines.append(f"<{LEXICAL_GRAPH}> <{PRESERVES}> <{predicate}> <{LEXICAL_GRAPH}> .".encode())
    return lines


_WRITTEN_TAG = re.compile(rb'["\']@([A-Za-z]+(?:-[A-Za-z0-9]+)*)')


def language_cases(raw: bytes) -> list[Any]:
    """Quads that record how the RDF text `raw` writes the language tags Oxigraph lower-cases ("en-GB"),
    for results to give values as written; a tag written in more than one way is left lower-cased."""
    if not re.search(rb'["\']@[A-Za-z0-9-]*[A-Z]', raw):
        return []
    written: dict[str, set[str]] = {}
    for found in _WRITTEN_TAG.finditer(raw):
        tag = found.group(1).decode("ascii")
        written.setdefault(tag.lower(), set()).add(tag)
    graph = ox.NamedNode(ORIGINAL_GRAPH)
    return [ox.Quad(graph, ox.NamedNode(LANGUAGE_CASE), ox.Literal(next(iter(forms))), graph)
            for lower, forms in sorted(written.items()) if len(forms) == 1 and next(iter(forms)) != lower]


def _load_bytes(store: Any, data: bytes, preserve: frozenset[str], path: Path) -> None:
    extra = _verbatim_lines(data, preserve, originals=True)
    try:
        if not extra:
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
        elif any(line.startswith(b"_:") for line in extra):  # blank nodes must be read in one document
            store.bulk_load(data + b"\n" + b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
        else:
            store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
            store.bulk_load(b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
    except SyntaxError as error:
        found = re.search(r"\bline (\d+)", str(error))
        raise BadInputError(f"malformed N-Triples: {' '.join(str(error).split())[:300]}", path=path,
                            line=int(found.group(1)) if found and path.suffix.lower() == ".nt" else None) from None


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
    extra = _verbatim_lines(data, preserve, originals=False)  # results are restored from the graph itself
    every = EVERY_PREDICATE in preserve
    pairs = ((s, p, o) for s, p, o in graph if isinstance(s, BNode)) if every else (
        (s, URIRef(p), o) for p in preserve for s, o in graph.subject_objects(URIRef(p)))
    for s, p, o in pairs:  # literals of preserved predicates on blank nodes
        if isinstance(s, BNode) and isinstance(o, Literal) and str(o.datatype) in NORMALISED:
            quads.append(ox.Quad(_ox(s), ox.NamedNode(str(p)),
                                 ox.Literal(str(o), datatype=ox.NamedNode(RAW_DATATYPE + str(o.datatype))),
                                 ox.NamedNode(LEXICAL_GRAPH)))
    store.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)
    if extra:
        store.bulk_load(b"\n".join(extra) + b"\n", format=ox.RdfFormat.N_QUADS)
    if quads:
        store.extend(quads)


def verbatim_copies(data: bytes, *, label_prefix: str = "") -> list[Any]:
    """Quads for the lexical graph: a verbatim copy of every literal of the N-Triples `data` whose form
    Oxigraph changes, whatever its predicate (what `load_store(..., preserve=[EVERY_PREDICATE])` keeps).
    Blank nodes are labelled as in `data`, after `label_prefix`, as `kgtool.store.Store.load` labels them.
    `mark_verbatim` then says that the store keeps them all."""
    lines = _verbatim_lines(data, frozenset([EVERY_PREDICATE]), originals=False)[:-1]  # without the marker
    if not lines:
        return []

    def relabel(term: Any) -> Any:
        return ox.BlankNode(label_prefix + term.value) if isinstance(term, ox.BlankNode) else term

    return [ox.Quad(relabel(q.subject), q.predicate, q.object, q.graph_name)
            for q in ox.parse(b"\n".join(lines) + b"\n", format=ox.RdfFormat.N_QUADS)]


_EVERY_MARKER = (ox.NamedNode(LEXICAL_GRAPH), ox.NamedNode(PRESERVES), ox.NamedNode(EVERY_PREDICATE))


def mark_verbatim(store: Any) -> None:
    """Record in the store that its lexical graph has the verbatim copies of every predicate's literals."""
    store.add(ox.Quad(*_EVERY_MARKER, ox.NamedNode(LEXICAL_GRAPH)))


def keeps_verbatim(store: Any) -> bool:
    """Whether the store's lexical graph has the verbatim copies of every predicate's literals."""
    return any(True for _ in store.quads_for_pattern(*_EVERY_MARKER, ox.NamedNode(LEXICAL_GRAPH)))


def load_store(*sources: Path | Graph, preserve: Iterable[str | URIRef] = ()) -> Any:
    """A new in-memory Oxigraph store holding the sources in its default graph.

    `preserve` names the predicates whose literals must keep their datatype and lexical form for
    validation (see `ShapesPlan.preserved`; EVERY_PREDICATE for all of them); a verbatim copy of those
    goes into the lexical graph."""
    kept = frozenset(str(p) for p in preserve)
    store = ox.Store()
    for source in sources:
        if isinstance(source, Graph):
            _load_graph(store, source, kept)
        else:
            data = read_ntriples(Path(source))
            _load_bytes(store, data, kept, Path(source))
            store.extend(language_cases(data if Path(source).suffix.lower() == ".nt" else _raw(Path(source))))
    return store


def _raw(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", path=path) from None


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


def _key(term: Any) -> str:
    """An IRI's text, or a blank node's label after "_:" (a dictionary key that keeps them apart)."""
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else str(term.value)


def _flag(term: Any) -> bool:
    """A boolean the query computed (servers may give true as "1")."""
    return term is not None and getattr(term, "value", None) in ("true", "1")


# ------------------------------------------------------------------------------------------------ where queries run

T = TypeVar("T")


class Row(Protocol):
    """A solution: a pyoxigraph term by variable name, None when unbound (a pyoxigraph QuerySolution)."""

    def __getitem__(self, variable: str) -> Any:
        """The term bound to the variable."""


@dataclass(frozen=True)
class Solutions:
    """The solutions of a SELECT query, as pyoxigraph terms."""

    variables: tuple[str, ...]
    rows: Sequence[Row]

    @classmethod
    def from_rdflib(cls, variables: Sequence[str], rows: Iterable[Sequence[Node | None]]) -> Solutions:
        """Rows of rdflib terms (a SPARQL endpoint's answer) as pyoxigraph terms."""
        names = tuple(variables)
        return cls(names, [{name: None if term is None else _ox(term) for name, term in zip(names, row)}
                           for row in rows])


class QueryRunner(Protocol):
    """Where the compiled queries run: an Oxigraph store (`OxigraphRunner`) or a SPARQL endpoint
    (`kgtool.endpoint.EndpointRunner`). Rows come back as pyoxigraph terms either way."""

    @property
    def workers(self) -> int:
        """How many queries may run at the same time."""

    @property
    def lexical(self) -> bool:
        """Whether the data has the verbatim copies of literals that `load_store` makes."""

    @property
    def portable(self) -> bool:
        """Whether queries must keep to the plainest forms: one check a query, its failures selected by
        FILTER alone (Virtuoso 7 fails to compile, or answers wrongly, queries that BIND the value of an
        EXISTS or nest a SELECT under BINDs)."""

    @property
    def cycles(self) -> bool:
        """Whether a transitive property path finds cycles (`?x path+ ?x`); Virtuoso 7's never do."""

    @property
    def retypes(self) -> bool:
        """Whether the data's typed literals come back in canonical form, derived integer types as
        xsd:integer and xsd:dateTimeStamp as xsd:dateTime, with no verbatim copy (Oxigraph behind a SPARQL
        server): sh:datatype of those types is then checked on the value (`_Compiler.datatype_is`)."""

    def select(self, text: str) -> Solutions:
        """The solutions of a SELECT query (SyntaxError when it does not parse)."""


def default_workers() -> int:
    """One query at a time per processor this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class OxigraphRunner:
    """Queries on a pyoxigraph Store, `workers` at a time (reads are thread-safe; evaluation releases the GIL)."""

    lexical = True
    portable = False
    cycles = True
    retypes = False  # load_store keeps verbatim copies of what Oxigraph retypes

    def __init__(self, store: Any, *, union_of_graphs: bool = False, workers: int | None = None) -> None:
        self.store = store
        self.union_of_graphs = union_of_graphs
        self.workers = workers if workers is not None else default_workers()

    def select(self, text: str) -> Solutions:
        solutions = self.store.query(text, use_default_graph_as_union=self.union_of_graphs)
        return Solutions(tuple(v.value for v in solutions.variables), list(solutions))


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
    """Compiles shapes into SPARQL for one dataset. What the queries depend on in the data (class
    hierarchies, which classes have instances, which predicates are used) is asked once, up front, in a
    few queries run side by side (`prefetch`); whether a predicate repeats, when a check needs to know."""

    def __init__(self, shapes: Graph, runner: QueryRunner, preserved: frozenset[str],
                 source: Graph | None = None) -> None:
        self.shapes = shapes
        self.source = source
        self.runner = runner
        self.preserved = preserved
        self.counter = itertools.count()
        self.closures: dict[URIRef, list[str]] = {}
        self.repeating: dict[str, bool] = {}  # see repeats()
        self.typed: set[str] = set()  # classes (as SPARQL IRIs) with at least one instance
        self.asked: set[str] = set()  # predicates asked about in prefetch
        self.used: set[str] = set()  # those of them with at least one triple
        # predicates that do have verbatim copies (no copy: every literal was stored as written), those of
        # them that also have values without a copy, and the original datatypes of the copies
        self.copied: frozenset[str] = frozenset()
        self.mixed: set[str] = set()
        self.raw_types: set[str] = set()
        self.originals: tuple[str, ...] = ()  # the graphs where the store keeps rewritten literals as written
        self.language_case: dict[str, str] = {}  # language tags as the data writes them, by their lower case

    def fresh(self, name: str) -> str:
        return f"?kgtool_{name}{next(self.counter)}"

    def query(self, text: str) -> Sequence[Row]:
        return self.runner.select(text).rows

    def prefetch(self, classes: Iterable[URIRef], predicates: Iterable[str]) -> None:
        """Ask the data what compiling depends on: the closures of `classes` and which of their members
        have instances, which of `predicates` are used, which preserved predicates have verbatim copies
        (and which also have values without one), and the datatypes of the copies."""
        classes = sorted(set(classes))
        asked = sorted(set(predicates))
        self.asked |= set(asked)

        def closures() -> None:
            self._closures(classes)

        def used() -> None:
            if asked:
                rows = self.query(f"SELECT ?p WHERE {{ VALUES ?p {{ {' '.join(f'<{p}>' for p in asked)} }} "
                                  "FILTER EXISTS { ?s ?p ?o } }")
                self.used |= {row["p"].value for row in rows}

        def copied() -> None:
            if self.preserved:
                names = " ".join(f"<{p}>" for p in sorted(self.preserved))
                rows = self.query(f"SELECT ?p WHERE {{ VALUES ?p {{ {names} }} "
                                  f"FILTER EXISTS {{ GRAPH <{LEXICAL_GRAPH}> {{ ?s ?p ?o }} }} }}")
                self.copied = frozenset(row["p"].value for row in rows)

        def raw_types() -> None:
            if self.preserved:
                rows = self.query(f"SELECT DISTINCT ?d WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ ?s ?p ?o }} "
                                  "FILTER (isLiteral(?o)) BIND (DATATYPE(?o) AS ?d) }")
                self.raw_types |= {row["d"].value[len(RAW_DATATYPE):] for row in rows
                                   if row["d"].value.startswith(RAW_DATATYPE)}

        def mixed() -> None:
            if self.copied:  # one branch per predicate, each stopping at its first value that may lack a copy
                others = ", ".join(f"<{d}>" for d in sorted(NORMALISED) if d[len(_X):] in _NOT_NUMERIC)
                branches = " UNION ".join(
                    f"{{ SELECT ?p WHERE {{ ?s <{p}> ?o FILTER (!isNumeric(?o) && (!isLiteral(?o) || "
                    f"!(DATATYPE(?o) IN ({others})))) BIND (<{p}> AS ?p) }} LIMIT 1 }}" for p in sorted(self.copied))
                self.mixed |= {row["p"].value for row in self.query(f"SELECT ?p WHERE {{ {branches} }}")}

        def originals() -> None:
            if self.runner.lexical and self.source is None:
                graphs = []
                if self.query(f"SELECT ?s WHERE {{ GRAPH <{ORIGINAL_GRAPH}> {{ ?s ?p ?o }} }} LIMIT 1"):
                    graphs.append(ORIGINAL_GRAPH)
                    forms: dict[str, set[str]] = {}
                    for row in self.query(f"SELECT ?t WHERE {{ GRAPH <{ORIGINAL_GRAPH}> {{ <{ORIGINAL_GRAPH}> "
                                          f"<{LANGUAGE_CASE}> ?t }} }}"):
                        forms.setdefault(row["t"].value.lower(), set()).add(row["t"].value)
                    self.language_case = {lower: next(iter(written)) for lower, written in forms.items()
                                          if len(written) == 1}  # files that write a tag differently: as stored
                if self.query(f"SELECT ?s WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ <{LEXICAL_GRAPH}> <{PRESERVES}> "
                              f"<{EVERY_PREDICATE}> }} }}"):  # every copy is in the lexical graph
                    graphs.append(LEXICAL_GRAPH)
                self.originals = tuple(graphs)

        _in_parallel(self.runner, [closures, used, copied, raw_types, originals])
        _in_parallel(self.runner, [self._typed, mixed])

    def _closures(self, classes: Sequence[URIRef]) -> None:
        """rdfs:subClassOf* of each class, from the hierarchy read in one query and closed here (a
        transitive path from a VALUES-bound class is refused by Virtuoso: "transitive start not given")."""
        if not classes:
            return
        subclasses: dict[str, set[str]] = {}
        for row in self.query(f"SELECT ?sub ?super WHERE {{ ?sub <{_SUBCLASS}> ?super }}"):
            subclasses.setdefault(_key(row["super"]), set()).add(_key(row["sub"]))
        for cls in classes:
            found, todo = {str(cls)}, [str(cls)]
            while todo:
                for sub in subclasses.get(todo.pop(), ()):
                    if sub not in found:
                        found.add(sub)
                        todo.append(sub)
            self.closures[cls] = sorted(f"<{c}>" for c in found if not c.startswith("_:"))

    def _typed(self) -> None:
        """Which classes of the closures have an instance."""
        members = sorted({c for closure in self.closures.values() for c in closure})
        if members:
            rows = self.query(f"SELECT ?c WHERE {{ VALUES ?c {{ {' '.join(members)} }} "
                              f"FILTER EXISTS {{ ?s <{_RDF_TYPE}> ?c }} }}")
            self.typed |= {f"<{row['c'].value}>" for row in rows}

    def original(self, focus: Node, path: Node | None, value: Node | None) -> Node | None:
        """A value as the data has it: as the source graph has it, or as the store's copy of the literal
        as written has it (Oxigraph stores "140.0"^^xsd:decimal as "140")."""
        if self.source is not None:
            return _original(self.source, focus, path, value)
        if isinstance(value, Literal) and value.language and value.language.lower() in self.language_case:
            return Literal(str(value), lang=self.language_case[value.language.lower()])
        if not (self.originals and isinstance(value, Literal) and str(value.datatype) in NORMALISED
                and isinstance(path, URIRef) and isinstance(focus, URIRef)):
            return value
        rows = self.query("SELECT ?o WHERE { " + " UNION ".join(
            f"{{ GRAPH <{graph}> {{ <{focus}> <{path}> ?o }} }}" for graph in self.originals) + " }")
        return _as_written([o for o in (_rdflib(row["o"]) for row in rows) if isinstance(o, Literal)], value)

    def unused(self, path: Node | None) -> bool:
        """Whether the path is a predicate no triple has (then its values fail nothing)."""
        return isinstance(path, URIRef) and str(path) in self.asked and str(path) not in self.used

    def repeats(self, predicate: str) -> bool:
        """Whether a subject has two values of the predicate: in the default graph, or two verbatim copies
        ("5"^^xsd:int and "5"^^xsd:integer, which Oxigraph stores as one triple). Asked once (a count of
        the triples against a count of their distinct subjects), then cached."""
        if predicate not in self.repeating:
            if predicate in self.asked and predicate not in self.used:
                self.repeating[predicate] = False
            else:
                graphs = [f"?s <{predicate}> ?o"] + ([f"GRAPH <{LEXICAL_GRAPH}> {{ ?s <{predicate}> ?o }}"]
                                                     if predicate in self.copied else [])
                counts = [self.query(f"SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?m) WHERE {{ {pattern} }}")[0]
                          for pattern in graphs]
                self.repeating[predicate] = any(int(row["n"].value) != int(row["m"].value) for row in counts)
        return self.repeating[predicate]

    def closure(self, cls: Node) -> list[str]:
        """The class and its subclasses in the data graph (rdfs:subClassOf*), as SPARQL IRIs."""
        if not isinstance(cls, URIRef):
            raise UnsupportedShapeError([f"sh:class or sh:targetClass {cls.n3()} is not an IRI"])
        if cls not in self.closures:  # a class prefetch did not know of
            self._closures([cls])
            rows = self.query(f"SELECT ?c WHERE {{ VALUES ?c {{ {' '.join(self.closures[cls])} }} "
                              f"FILTER EXISTS {{ ?s <{_RDF_TYPE}> ?c }} }}")
            self.typed |= {f"<{row['c'].value}>" for row in rows}
        return self.closures[cls]

    def present(self, cls: Node) -> list[str]:
        """The classes of the closure that have instances: the only ones a pattern needs to name."""
        return [c for c in self.closure(cls) if c in self.typed]

    def instance_of(self, var: str, cls: Node) -> str:
        """A graph pattern: `var` (bound) is an instance of `cls` or of a subclass. One look-up of the
        node's types, compared with the classes (VALUES would make one look-up per class)."""
        classes = self.present(cls)
        if not classes:  # a pattern no triple matches: Virtuoso 7 takes EXISTS { FILTER (false) } for true
            return f"{var} <{_NO_INSTANCE}> <{_NO_INSTANCE}> ."
        if len(classes) == 1:
            return f"{var} <{_RDF_TYPE}> {classes[0]} ."
        c = self.fresh("class")
        return f"{var} <{_RDF_TYPE}> {c} . FILTER ({c} IN ({', '.join(classes)}))"

    # -- focus nodes

    def focus_branches(self, targets: list[tuple[URIRef, Node]]) -> list[str]:
        """Graph patterns whose union binds ?this to every focus node of these targets (one class a
        branch: each a scan); a node may come more than once."""
        branches: list[str] = []
        for kind, target in targets:
            if kind == SH.targetClass:
                branches += [f"{{ ?this <{_RDF_TYPE}> {c} }}" for c in self.present(target)]
            elif kind == SH.targetNode and self.runner.portable:  # Virtuoso 7 ignores VALUES in a UNION branch
                branches.append(f"{{ BIND ({_sparql(target)} AS ?this) }}")
            elif kind == SH.targetNode:
                branches.append(f"{{ VALUES ?this {{ {_sparql(target)} }} }}")
            elif str(target) in self.asked and str(target) not in self.used:
                continue  # no triple has that predicate
            elif kind == SH.targetSubjectsOf:
                branches.append(f"{{ ?this <{target}> ?kgtool_any }}")
            elif kind == SH.targetObjectsOf:
                branches.append(f"{{ ?kgtool_any <{target}> ?this }}")
        return branches

    def target_test(self, targets: list[tuple[URIRef, Node]]) -> str:
        """A graph pattern true for a bound ?this when it is a focus node of these targets (for EXISTS)."""
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
        if str(path) not in self.mixed:  # every value has a verbatim copy
            return f"GRAPH <{LEXICAL_GRAPH}> {{ {subject} {text} {var} }}"
        normalised = ", ".join(f"<{d}>" for d in sorted(NORMALISED))
        return (f"{{ {subject} {text} {var} . FILTER (!isLiteral({var}) || !(DATATYPE({var}) IN ({normalised}))) }}"
                f" UNION {{ GRAPH <{LEXICAL_GRAPH}> {{ {subject} {text} {var} }} }}")

    def single_pattern(self, subject: str, path: Node, var: str) -> str | None:
        """The value nodes as one triple pattern, when they can be: for tests inside EXISTS, which Oxigraph
        evaluates with the outer bindings only when the pattern is a single one (a group of several is
        evaluated in full for every solution)."""
        if not isinstance(path, URIRef):
            return None
        if not self.preserved_path(path):
            return f"{subject} <{path}> {var} ."
        if str(path) not in self.mixed:
            return f"GRAPH <{LEXICAL_GRAPH}> {{ {subject} <{path}> {var} }}"
        return None

    # -- expressions on one value (never an error: a failed comparison is a failed constraint)

    def datatype_is(self, var: str, datatype: Node, raw: bool) -> str:
        """True when the value's original datatype is `datatype` (a verbatim copy has the datatype
        RAW_DATATYPE + the original one: compared as IRIs, no string functions). Where the runner `retypes`
        literals, an xsd:integer in the range of a derived integer type, or an xsd:dateTime with a time
        zone for xsd:dateTimeStamp, is taken to be of that type: the datatype as written is lost there."""
        if raw and str(datatype) in NORMALISED:
            return f"DATATYPE({var}) IN (<{datatype}>, <{RAW_DATATYPE}{datatype}>)"
        if datatype == RDF.langString:  # the same in SPARQL 1.1; Virtuoso 7 leaves DATATYPE of "x"@en unbound
            return f"LANG({var}) != \"\""
        if not raw and self.runner.retypes and str(datatype) in RETYPED_TO:
            stored, test = RETYPED_TO[str(datatype)]
            return f"(DATATYPE({var}) = <{datatype}> || (DATATYPE({var}) = <{stored}> && {test.format(v=var)}))"
        return f"DATATYPE({var}) = <{datatype}>"

    def numeric(self, var: str, raw: bool) -> str:
        """The value to compare: a verbatim copy read as its original datatype (one test for each
        datatype the copies have)."""
        if not raw:
            return var
        expression = var
        for datatype in sorted(self.raw_types, reverse=True):
            expression = (f"IF(DATATYPE({var}) = <{RAW_DATATYPE}{datatype}>, STRDT(STR({var}), <{datatype}>), "
                          f"{expression})")
        return f"IF(isLiteral({var}), {expression}, {var})"

    def same_term(self, var: str, term: Node, raw: bool) -> str:
        """True when `var` is the term (compared part by part for verbatim copies, and on a portable runner:
        Virtuoso 7's sameTerm is never true for an IRI constant and compares literals by value)."""
        portable = self.runner.portable
        if (raw or portable) and isinstance(term, Literal):
            datatype = term.datatype or (RDF.langString if term.language else XSD.string)
            return (f"COALESCE(isLiteral({var}) && STR({var}) = {_quote(str(term))} && "
                    f"{self.datatype_is(var, datatype, raw)} && "
                    f"LCASE(LANG({var})) = {_quote((term.language or '').lower())}, false)")
        if portable and isinstance(term, URIRef):
            return f"(isIRI({var}) && {var} = {_sparql(term)})"
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
            if not self.present(parameter):  # no instance of the class in the data: nothing to look up
                return "false"
            return f"EXISTS {{ {self.instance_of(var, parameter)} }}"
        if predicate == SH.datatype:
            assert isinstance(parameter, URIRef)
            if parameter == RDFS.Literal:
                return f"isLiteral({var})"
            if parameter == RDFS.Datatype:
                return f"(isLiteral({var}) && LANG({var}) = \"\" && DATATYPE({var}) != <{_X}string>)"
            if not nested:
                return f"COALESCE(isLiteral({var}) && {self.datatype_is(var, parameter, raw)}, false)"
            return (f"(isLiteral({var}) && {self.datatype_is(var, parameter, raw)} && "
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


def _count(value: Node | None) -> int | None:
    """A count parameter (sh:qualifiedMinCount ...) as a number."""
    return None if value is None else int(value)  # type: ignore[call-overload]


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
    cycle: str | None = None  # a variable that a transitive path leads back to (?x path+ ?x)
    edges: str | None = None  # when the WHERE clause is `$this PATH+ $this` alone: a pattern of PATH's steps


def _steps(path: Any, subject: str, obj: str, fresh: Iterator[int]) -> str | None:
    """A graph pattern binding `subject` and `obj` to the ends of one step of an rdflib property path
    made of IRIs, inverses, sequences and alternatives (no transitive path); None for anything else."""
    from rdflib.paths import AlternativePath, InvPath, SequencePath

    if isinstance(path, URIRef):
        return f"{subject} <{path}> {obj} ."
    if isinstance(path, InvPath):
        return _steps(path.arg, obj, subject, fresh)
    if isinstance(path, SequencePath):
        ends = [subject] + [f"?kgtool_step{next(fresh)}" for _ in path.args[1:]] + [obj]
        parts = [_steps(step, ends[i], ends[i + 1], fresh) for i, step in enumerate(path.args)]
        return None if None in parts else " ".join(p for p in parts if p is not None)
    if isinstance(path, AlternativePath):
        branches = [_steps(step, subject, obj, fresh) for step in path.args]
        return None if None in branches else " UNION ".join(f"{{ {b} }}" for b in branches)
    return None


def _algebra(query: str) -> Any:
    """rdflib's algebra of a query, or None when rdflib cannot read it."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        return prepareQuery(query).algebra
    except Exception:  # noqa: BLE001 - anything rdflib cannot read is left to the regular expression
        return None


def _cycle_variable(algebra: Any) -> str | None:
    """A variable that a transitive property path leads back to (`?x path+ ?x`), anywhere in the query."""
    from rdflib.paths import MulPath
    from rdflib.term import Variable

    todo = [algebra]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if getattr(node, "name", None) == "BGP":
                for subject, path, obj in node.get("triples") or ():
                    if isinstance(path, MulPath) and isinstance(subject, Variable) and subject == obj:
                        return f"?{subject}"
            todo.extend(node.values())
        elif isinstance(node, (list, tuple)):
            todo.extend(node)
    return None


def _cycle_edges(algebra: Any) -> str | None:
    """For a constraint whose WHERE clause is only `$this PATH+ $this` (PATH made of IRIs, inverses,
    sequences and alternatives): a graph pattern that binds ?kgtool_s and ?kgtool_o to the ends of every
    step of PATH, so that the cycles can be found here instead of by the server's transitive paths."""
    from rdflib.paths import MulPath
    from rdflib.term import Variable

    if algebra is None:
        return None
    node = algebra.get("p")
    while node is not None and node.name in ("Distinct", "Reduced", "Project"):
        node = node.get("p")
    if node is None or node.name != "BGP" or len(node.triples) != 1:
        return None
    subject, path, obj = node.triples[0]
    if subject != Variable("this") or obj != Variable("this") or not isinstance(path, MulPath) or path.mod != "+":
        return None
    return _steps(path.path, "?kgtool_s", "?kgtool_o", itertools.count())


# `?x (...)+ ?x` or `?x path* ?x` in a masked query: a transitive path from a variable back to itself
_CYCLE = re.compile(r"[?$](\w+)\s+(?:\([^{}.;]*\)|[^\s{}.;]+)[+*]\s+[?$](\w+)\b")


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
_NO_INSTANCE = "urn:kgtool:shacl-sparql:no-instance"  # a predicate and object no data uses
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
    algebra = _algebra(query)
    cycle = next((f"?{found.group(1)}" for found in _CYCLE.finditer(_mask(resolved))
                  if found.group(1) == found.group(2)), None) or _cycle_variable(algebra)
    edges = _cycle_edges(algebra) if cycle is not None else None
    return _SelectConstraint(constraint, query, messages, tuple(v for v in variables + as_variables), cycle, edges)


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
class _FocusCheck:
    """A test on each focus node (?this, also bound as ?value), true when the node fails it."""

    test: str
    candidate: str | None  # true when pySHACL's datatype test must decide (checked in Python)
    info: _ShapeInfo
    component: URIRef
    parameter: Node | None
    with_value: bool  # the result's value is the focus node (a node shape's own constraints)


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
        # what compiling asks the data about (see _Compiler.prefetch)
        named = itertools.chain(shapes.objects(None, SH.targetClass), shapes.objects(None, SH["class"]),
                                (t for info in self.top for kind, t in info.targets if kind == SH.targetClass))
        self.classes = {c for c in named if isinstance(c, URIRef)}
        # predicates of targets and paths: a check on the values of a predicate no triple has cannot fail
        self.predicates = {str(p) for target in (SH.targetSubjectsOf, SH.targetObjectsOf)
                           for p in shapes.objects(None, target) if isinstance(p, URIRef)}
        self.predicates |= {str(path) for path in shapes.objects(None, SH.path) if isinstance(path, URIRef)}

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

    def validate(self, store: Any, *, source: Graph | None = None, union_of_graphs: bool = False,
                 workers: int | None = None) -> ValidationReport:
        """Run the compiled queries on an Oxigraph store (see `load_store`), `workers` at a time (default:
        one per processor)."""
        if self.preserved:
            marked = {row["p"].value for row in store.query(
                f"SELECT ?p WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ <{LEXICAL_GRAPH}> <{PRESERVES}> ?p }} }}")}
            missing = [] if EVERY_PREDICATE in marked else sorted(self.preserved - marked)
            if missing:
                raise BadInputError(
                    "the store does not keep the original form of literals these shapes check: "
                    + ", ".join(f"<{m}>" for m in missing),
                    hint="load it with kgtool.shacl_sparql.load_store(..., preserve=plan.preserved): Oxigraph "
                         "stores xsd:nonNegativeInteger as xsd:integer")
        if union_of_graphs and (self.preserved or any(True for _ in store.quads_for_pattern(
                None, None, None, ox.NamedNode(ORIGINAL_GRAPH)))):
            raise BadInputError("union_of_graphs cannot be combined with the verbatim copies load_store keeps",
                                hint="load_store puts the data in the default graph: validate without union_of_graphs")
        return self.run(OxigraphRunner(store, union_of_graphs=union_of_graphs, workers=workers), source=source)

    def run(self, runner: QueryRunner, *, source: Graph | None = None) -> ValidationReport:
        """Run the compiled queries through `runner`: an Oxigraph store (`OxigraphRunner`) or a SPARQL
        endpoint (`kgtool.endpoint.EndpointRunner`). `source` is the rdflib graph the data came from, if
        any: values in results are then given as it has them."""
        if not runner.cycles:
            self._check_cycles()
        compiler = _Compiler(self.shapes, runner, self.preserved if runner.lexical else frozenset(), source)
        compiler.prefetch(self.classes, self.predicates)
        shared = _Shared()
        jobs = [job for info in self.top for job in self._run_shape(compiler, info, shared)]
        jobs += self._run_shared(compiler, shared)
        results = _execute(runner, jobs)
        self._add_details(compiler, results, depth=0)
        for result in results:
            result.value = compiler.original(result.focus, result.path, result.value)
        return _report(self.shapes, results)

    def _check_cycles(self) -> None:
        """SPARQL constraints that look for a cycle, for a runner whose transitive paths find none (Virtuoso
        7's: `?x path+ ?x` never matches there; written in the query's own pattern, it does not compile).
        A constraint that is only `$this PATH+ $this`, PATH made of IRIs, inverses, sequences and
        alternatives, is run by fetching PATH's steps and finding the cycles here (`_run_cycle`); any
        other is refused."""
        problems = [f"{_show(self.shapes, shape)}: its SPARQL constraint follows a transitive property path from "
                    f"{constraint.cycle} back to {constraint.cycle}, which Virtuoso 7 evaluates without cycles "
                    "(a cycle would go unreported); kgtool finds such cycles itself only when the WHERE clause is "
                    "`$this PATH+ $this` alone, PATH made of IRIs, ^, / and |"
                    for (shape, _), constraint in sorted(self.sparql.items(), key=lambda item: str(item[0]))
                    if constraint.cycle is not None and constraint.edges is None
                    and not _deactivated(self.shapes, constraint.node)]
        if problems:
            raise UnsupportedShapeError(problems, remote=True)

    def _run_shape(self, compiler: _Compiler, info: _ShapeInfo, shared: _Shared) -> list[_Job]:
        """A targeted shape: its own constraints, then those of its property shapes.

        Queries start from whichever side is smaller in practice. Constraints on the values of a
        predicate are not run shape by shape: all of them are collected (`shared`) and each predicate's
        triples are scanned once for every failure any shape looks for, and the few failing rows are
        then kept for the shapes whose focus nodes they belong to. Constraints that look at each focus
        node (its own value constraints, sh:minCount 1, sh:hasValue, sh:qualifiedMinCount 1) are tests
        in one query over the focus nodes (Oxigraph's cost is mostly per row, so one pass with many tests
        costs much less than one pass per test)."""
        shapes = self.shapes
        branches = compiler.focus_branches(info.targets)
        if not branches:
            return []  # no focus node: nothing to report
        # the focus nodes, one scan per class: a node of two of the classes comes twice (every query
        # that starts from them keeps distinct rows; a DISTINCT here would cost more than the repeats)
        focus = "{ " + " UNION ".join(branches) + " }"
        context = _Context(focus, compiler.target_test(info.targets))
        checks: list[_FocusCheck] = []
        if info.path is not None:
            jobs = self._run_constraints(compiler, info, context, info.path, shared, checks)
        else:
            jobs = self._run_constraints(compiler, info, context, None, shared, checks)
            for prop in sorted(shapes.objects(info.node, SH.property), key=str):
                if _deactivated(shapes, prop):
                    continue
                child = self._info(prop, [])
                if child.path is None:
                    raise UnsupportedShapeError([f"{_show(shapes, prop)}: a property shape without sh:path"])
                jobs += self._run_constraints(compiler, child, context, child.path, shared, checks)
        return jobs + self._focus_jobs(compiler, focus, checks)

    def _focus_jobs(self, compiler: _Compiler, focus: str, checks: list[_FocusCheck]) -> list[_Job]:
        """One pass over the focus nodes for every test on them; only failing nodes come back (one query
        a test when the runner is `portable`)."""
        def results(focus_node: Any, check: _FocusCheck, failed: bool, candidate: bool) -> list[_Result]:
            if check.candidate is not None and (failed or candidate):
                assert isinstance(check.parameter, URIRef)
                failed = not datatype_conforms(_rdflib(focus_node), check.parameter)
            if not failed:
                return []
            info = check.info
            return [_Result(_rdflib(focus_node), info.path, _rdflib(focus_node) if check.with_value else None,
                            info.node, check.component, info.severity, info.messages, parameter=check.parameter)]

        if not checks:
            return []
        if compiler.runner.portable:
            def one(check: _FocusCheck) -> _Job:
                test = check.test if check.candidate is None else f"({check.test}) || ({check.candidate})"
                return _Job(f"SELECT DISTINCT ?this WHERE {{ {focus} FILTER ({test}) }}",
                            lambda answer: [r for row in answer.rows for r in results(row["this"], check, True, True)])

            return [one(check) for check in checks]
        binds = " ".join(f"BIND ({check.test} AS ?kgtool_t{i})" + (
            f" BIND ({check.candidate} AS ?kgtool_c{i})" if check.candidate else "") for i, check in enumerate(checks))
        names = [f"?kgtool_t{i}" for i in range(len(checks))] + [
            f"?kgtool_c{i}" for i, check in enumerate(checks) if check.candidate]
        text = f"SELECT DISTINCT ?this {' '.join(names)} WHERE {{ {focus} {binds} FILTER ({' || '.join(names)}) }}"

        def failing(answer: Solutions) -> list[_Result]:
            found: list[_Result] = []
            for row in answer.rows:
                for i, check in enumerate(checks):
                    found += results(row["this"], check, _flag(row[f"kgtool_t{i}"]),
                                     check.candidate is not None and _flag(row[f"kgtool_c{i}"]))
            return found

        return [_Job(text, failing, weight=2)]  # a pass over every focus node of a shape: among the longest

    def _value_flags(self, compiler: _Compiler, shape: Node, path: Node | None, raw: bool,
                     var: str = "?value") -> list[_Flag]:
        """One flag per value constraint parameter of the shape (and a candidate test for sh:datatype), on
        the value node `var`."""
        flags: list[_Flag] = []
        for predicate, parameter in _pairs(self.shapes, shape):
            if predicate not in _VALUE_PARAMETERS or (predicate == SH.hasValue and path is not None):
                continue
            assert isinstance(predicate, URIRef)
            test = compiler.value_test(shape, predicate, parameter, var, raw, nested=False)
            candidate = None
            if predicate == SH.datatype:
                assert isinstance(parameter, URIRef)
                certain = _CERTAIN.get(str(parameter))
                if str(parameter) in RDFLIB_CHECKED and certain != "":
                    shape_of = f"REGEX(STR({var}), \"{certain}\")" if certain else "false"
                    if compiler.runner.retypes and not raw and str(parameter) in RETYPED_TO:
                        shape_of = f"DATATYPE({var}) != <{parameter}> || {shape_of}"  # retyped: decided in SPARQL
                    candidate = f"COALESCE({test} && !({shape_of}), false)"
            # an error fails the constraint; Virtuoso 7 cannot compile COALESCE around EXISTS, which never errs
            failing = f"!({test})" if compiler.runner.portable and "EXISTS" in test else f"!COALESCE({test}, false)"
            flags.append(_Flag(failing, candidate, _COMPONENT[predicate], parameter))
        return flags

    @staticmethod
    def _read_flags(row: Row, flags: list[tuple[_Flag, str, str | None]], info: _ShapeInfo, path: Node | None,
                    results: list[_Result]) -> None:
        """The results of one failing value: one per constraint it fails (pySHACL's datatype test decides
        the candidates)."""
        for flag, variable, candidate in flags:
            failed = _flag(row[variable])
            if candidate is not None and _flag(row[candidate]):
                assert isinstance(flag.parameter, URIRef)
                failed = not datatype_conforms(_rdflib(row["value"]), flag.parameter)
            if failed:
                results.append(_Result(_rdflib(row["this"]), path, _rdflib(row["value"]), info.node, flag.component,
                                       info.severity, info.messages, parameter=flag.parameter))

    def _run_constraints(self, compiler: _Compiler, info: _ShapeInfo, context: _Context, path: Node | None,
                         shared: _Shared, checks: list[_FocusCheck]) -> list[_Job]:
        shapes, shape = self.shapes, info.node
        focus = context.focus
        jobs: list[_Job] = []
        raw = compiler.preserved_path(path)
        flags = self._value_flags(compiler, shape, path, raw, "?value" if path is not None else "?this")
        if flags and compiler.unused(path):
            pass  # no value, no failure
        elif flags and isinstance(path, URIRef):
            shared.values.setdefault(str(path), []).append((info, context, flags))
        elif flags and path is None:
            checks += [_FocusCheck(flag.test, flag.candidate, info, flag.component, flag.parameter, True)
                       for flag in flags]
        elif flags:
            assert path is not None
            value_pattern = compiler.values("?this", path, "?value")
            jobs += self._flag_jobs(compiler, f"{focus} {value_pattern}", info, path, flags)
        if path is None:
            closed = shapes.value(shape, SH.closed)
            if _true(closed):
                allowed = compiler.closed_allowed(shape)
                text = (f"SELECT DISTINCT ?this ?kgtool_p ?value WHERE {{ {focus} ?this ?kgtool_p ?value . "
                        f"FILTER (?kgtool_p NOT IN ({', '.join(allowed)})) }}")

                def unexpected(answer: Solutions) -> list[_Result]:
                    return [_Result(_rdflib(row["this"]), _rdflib(row["kgtool_p"]), _rdflib(row["value"]), shape,
                                    SH.ClosedConstraintComponent, info.severity, info.messages)
                            for row in answer.rows]

                jobs.append(_Job(text, unexpected))
        else:
            jobs += self._run_path_constraints(compiler, info, context, path, checks)
        for sparql in sorted(shapes.objects(shape, SH.sparql), key=str):
            constraint = self.sparql.get((shape, sparql))
            if constraint is not None:
                jobs.append(self._run_sparql(compiler, info, focus, path, constraint))
        return jobs

    def _run_path_constraints(self, compiler: _Compiler, info: _ShapeInfo, context: _Context, path: Node,
                              checks: list[_FocusCheck]) -> list[_Job]:
        """sh:hasValue, the counts, sh:uniqueLang and the property-pair constraints of a property shape."""
        shapes, shape = self.shapes, info.node
        focus, targets = context.focus, context.targets
        raw = compiler.preserved_path(path)
        simple = isinstance(path, URIRef)
        value_pattern = compiler.values("?this", path, "?value")
        jobs: list[_Job] = []

        def check(text: str, component: URIRef, *, with_value: bool = False,
                  needed: Callable[[], bool] | None = None, on_values: bool = False) -> None:
            """One query whose rows are the failures: ?this (and ?value when `with_value`); none when only
            values can fail it (`on_values`) and no triple has the predicate."""
            def read(answer: Solutions) -> list[_Result]:
                return [_Result(_rdflib(row["this"]), path, _rdflib(row["value"]) if with_value else None, shape,
                                component, info.severity, info.messages) for row in answer.rows]

            if not (on_values and compiler.unused(path)):
                jobs.append(_Job(text, read, needed=needed))

        def scanned(select: str, inner: str, tail: str = "") -> str:
            """`inner` (a SELECT's WHERE clause, then `tail`) over the predicate's triples, kept for focus
            nodes only; over the focus nodes' values when the path is not a predicate (or on a portable
            runner: Virtuoso 7 gets EXISTS tests of a VALUES or a FILTER alone wrong)."""
            if simple and not compiler.runner.portable:
                return (f"SELECT {select} WHERE {{ {{ SELECT {select} WHERE {{ {inner} }} {tail} }} "
                        f"FILTER EXISTS {{ {targets} }} }}")
            return f"SELECT {select} WHERE {{ {{ SELECT {select} WHERE {{ {focus} {inner} }} {tail} }} }}"

        single = compiler.single_pattern("?this", path, "?kgtool_v")  # for a test on a bound ?this

        def on_focus(test: str, component: URIRef) -> None:
            checks.append(_FocusCheck(test, None, info, component, None, False))

        for expected in _objects(shapes, shape, SH.hasValue):
            if single is not None:
                on_focus(f"NOT EXISTS {{ {single} FILTER ({compiler.same_term('?kgtool_v', expected, raw)}) }}",
                         SH.HasValueConstraintComponent)
            else:
                test = compiler.same_term("?value", expected, raw)
                check(f"SELECT DISTINCT ?this WHERE {{ {focus} MINUS {{ {value_pattern} FILTER ({test}) }} }}",
                      SH.HasValueConstraintComponent)
        minimum, maximum = shapes.value(shape, SH.minCount), shapes.value(shape, SH.maxCount)
        low = int(minimum) if minimum is not None else 0  # type: ignore[call-overload]
        high = int(maximum) if maximum is not None else None  # type: ignore[call-overload]
        if low == 1 and single is not None:
            on_focus(f"NOT EXISTS {{ {single} }}", SH.MinCountConstraintComponent)
        elif low == 1:
            check(f"SELECT DISTINCT ?this WHERE {{ {focus} MINUS {{ {value_pattern} }} }}",
                  SH.MinCountConstraintComponent)
        elif low > 1:
            check(f"SELECT ?this ?kgtool_n WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?value) AS ?kgtool_n) "
                  f"WHERE {{ {focus} OPTIONAL {{ {value_pattern} }} }} GROUP BY ?this }} FILTER (?kgtool_n < {low}) }}",
                  SH.MinCountConstraintComponent)
        unique_lang = _true(shapes.value(shape, SH.uniqueLang))
        # a count of 1 or more, or two languages, cannot fail on a predicate no subject has two values of:
        # asked (in the worker, once per predicate) before such a query runs
        repeats = partial(compiler.repeats, str(path)) if simple else None
        if high is not None:
            if high == 0:
                text = scanned("DISTINCT ?this", value_pattern)
            elif high == 1:
                other = compiler.values("?this", path, "?kgtool_b")
                text = scanned("DISTINCT ?this", f"{value_pattern} {other} FILTER (!sameTerm(?value, ?kgtool_b))")
            else:
                text = scanned("?this", value_pattern, f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {high})")
            check(text, SH.MaxCountConstraintComponent, needed=repeats if high >= 1 else None, on_values=True)
        for qualified in sorted(shapes.objects(shape, SH.qualifiedValueShape), key=str):
            q_min, q_max = (_count(shapes.value(shape, p)) for p in (SH.qualifiedMinCount, SH.qualifiedMaxCount))
            join = compiler.class_join(qualified, "?value")
            conforming = f"{value_pattern} {join}" if join else (
                f"{value_pattern} FILTER ({compiler.conforms(qualified, '?value', raw)})")
            if q_max is not None:
                check(scanned("?this", conforming, f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {q_max})"),
                      SH.QualifiedMaxCountConstraintComponent, needed=repeats if q_max >= 1 else None,
                      on_values=True)
            if q_min == 1 and single is not None:  # nested EXISTS, one pattern each (see single_pattern)
                test = (f"FILTER EXISTS {{ {compiler.class_join(qualified, '?kgtool_v')} }}" if join else
                        f"FILTER ({compiler.conforms(qualified, '?kgtool_v', raw)})")
                on_focus(f"NOT EXISTS {{ {single} {test} }}", SH.QualifiedMinCountConstraintComponent)
            elif q_min == 1:
                check(f"SELECT DISTINCT ?this WHERE {{ {focus} MINUS {{ {conforming} }} }}",
                      SH.QualifiedMinCountConstraintComponent)
            elif q_min is not None and q_min > 1:
                check(f"SELECT ?this WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?value) AS ?kgtool_n) WHERE "
                      f"{{ {focus} OPTIONAL {{ {conforming} }} }} GROUP BY ?this }} FILTER (?kgtool_n < {q_min}) }}",
                      SH.QualifiedMinCountConstraintComponent)
        if unique_lang:
            other = compiler.values("?this", path, "?kgtool_b")
            check(scanned("DISTINCT ?this ?kgtool_lang",
                          f"{value_pattern} {other} FILTER (isLiteral(?value) && LANG(?value) != \"\" && "
                          f"!sameTerm(?value, ?kgtool_b) && LCASE(LANG(?value)) = LCASE(LANG(?kgtool_b))) "
                          f"BIND (LCASE(LANG(?value)) AS ?kgtool_lang)"),
                  SH.UniqueLangConstraintComponent, needed=repeats, on_values=True)
        for predicate in (SH.lessThan, SH.lessThanOrEquals):
            operator = "<" if predicate == SH.lessThan else "<="
            for other_path in _objects(shapes, shape, predicate):
                check(scanned("DISTINCT ?this ?value ?kgtool_o",
                              f"{value_pattern} ?this <{other_path}> ?kgtool_o . FILTER (!COALESCE("
                              f"{compiler.comparable('?value', raw)} {operator} {compiler.comparable('?kgtool_o', False)}"
                              f", false))"),
                      _COMPONENT[predicate], with_value=True, on_values=True)
        for other_path in _objects(shapes, shape, SH.equals):
            check(f"SELECT DISTINCT ?this ?value WHERE {{ {{ {focus} {value_pattern} FILTER NOT EXISTS "
                  f"{{ ?this <{other_path}> ?value }} }} UNION {{ {focus} ?this <{other_path}> ?value . "
                  f"FILTER NOT EXISTS {{ {value_pattern} }} }} }}", SH.EqualsConstraintComponent, with_value=True)
        for other_path in _objects(shapes, shape, SH.disjoint):
            check(scanned("DISTINCT ?this ?value", f"{value_pattern} ?this <{other_path}> ?value ."),
                  SH.DisjointConstraintComponent, with_value=True, on_values=True)
        return jobs

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
            jobs = self._run_shape(compiler, nested, shared)
            item.details = _execute(compiler.runner, jobs + self._run_shared(compiler, shared))
            self._add_details(compiler, item.details, depth + 1)

    def _run_shared(self, compiler: _Compiler, shared: _Shared) -> list[_Job]:
        """Each predicate's triples scanned once for the value constraints of every shape on it: only the
        values that fail a constraint of a shape whose focus node they belong to come back."""
        jobs: list[_Job] = []
        for predicate, work in sorted(shared.values.items()):
            jobs += self._shared_jobs(compiler, URIRef(predicate), work)
        return jobs

    def _shared_jobs(self, compiler: _Compiler, path: URIRef,
                     work: list[tuple[_ShapeInfo, _Context, list[_Flag]]]) -> list[_Job]:
        pattern = compiler.values("?this", path, "?value")
        if compiler.runner.portable:  # from the focus nodes (see scanned in _run_path_constraints)
            return [job for info, context, flags in work for job in self._flag_jobs(
                compiler, f"{context.focus} {pattern}", info, path, flags)]
        tests: dict[str, str] = {}
        memberships: dict[str, str] = {}
        plan: list[tuple[_ShapeInfo, str, list[tuple[_Flag, str, str | None]]]] = []
        for info, context, flags in work:
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
        member_condition = " || ".join(f"?{m}" for m in memberships.values())
        selected = " ".join(f"?{v}" for v in tests.values())
        member_vars = " ".join("?" + m for m in memberships.values())
        text = (f"SELECT ?this ?value {selected} {member_vars} WHERE {{ {{ SELECT DISTINCT ?this ?value "
                f"{selected} WHERE {{ {pattern} {binds} FILTER ({condition}) }} }} {members} "
                f"FILTER ({member_condition}) }}")

        def failing_values(answer: Solutions) -> list[_Result]:
            results: list[_Result] = []
            for row in answer.rows:
                for info, member, named in plan:
                    if _flag(row[member]):
                        self._read_flags(row, named, info, path, results)
            return results

        return [_Job(text, failing_values)]

    def _flag_jobs(self, compiler: _Compiler, where: str, info: _ShapeInfo, path: Node,
                   flags: list[_Flag]) -> list[_Job]:
        """The failures of value flags: `where` binds ?this and ?value, for focus nodes only. One query
        for all the flags, or, on a `portable` runner, one a flag (a datatype's candidates decided here)."""
        if not compiler.runner.portable:
            named = [(flag, f"kgtool_f{i}", f"kgtool_c{i}" if flag.candidate else None) for i, flag in enumerate(flags)]
            binds = " ".join(f"BIND ({flag.test} AS ?{v})" + (f" BIND ({flag.candidate} AS ?{c})" if c else "")
                             for flag, v, c in named)
            names = [f"?{v}" for _, v, _ in named] + [f"?{c}" for _, _, c in named if c]
            text = (f"SELECT DISTINCT ?this ?value {' '.join(names)} WHERE {{ {where} {binds} "
                    f"FILTER ({' || '.join(names)}) }}")

            def failing(answer: Solutions) -> list[_Result]:
                results: list[_Result] = []
                for row in answer.rows:
                    self._read_flags(row, named, info, path, results)
                return results

            return [_Job(text, failing)]

        def one(flag: _Flag) -> _Job:
            test = flag.test if flag.candidate is None else f"({flag.test}) || ({flag.candidate})"

            def failing(answer: Solutions) -> list[_Result]:
                results: list[_Result] = []
                for row in answer.rows:
                    value = _rdflib(row["value"])
                    if flag.candidate is not None and isinstance(flag.parameter, URIRef) and datatype_conforms(
                            value, flag.parameter):
                        continue
                    results.append(_Result(_rdflib(row["this"]), path, value, info.node, flag.component,
                                           info.severity, info.messages, parameter=flag.parameter))
                return results

            return _Job(f"SELECT DISTINCT ?this ?value WHERE {{ {where} FILTER ({test}) }}", failing)

        return [one(flag) for flag in flags]

    def _run_sparql(self, compiler: _Compiler, info: _ShapeInfo, focus: str, path: Node | None,
                    constraint: _SelectConstraint) -> _Job:
        if constraint.cycle is not None and constraint.edges is not None:  # on every runner: see the module doc
            return self._run_cycle(compiler, info, focus, path, constraint)
        return _Job(constraint.text.replace(FOCUS_MARK, focus), partial(self._sparql_results, compiler, info, path,
                                                                        constraint), weight=2,
                    user_query=f"{_show(self.shapes, info.node)}: its SPARQL constraint")

    def _run_cycle(self, compiler: _Compiler, info: _ShapeInfo, focus: str, path: Node | None,
                   constraint: _SelectConstraint) -> _Job:
        """`$this PATH+ $this` without a transitive path: PATH's steps fetched in one plain query, the
        nodes on a cycle found here (a strongly connected component of two or more nodes, or a step from
        a node to itself), then those of them that are focus nodes asked of the runner."""
        assert constraint.edges is not None

        def cycles(answer: Solutions) -> list[_Result]:
            on_cycle = _on_cycle((str(row["kgtool_s"]), row["kgtool_s"], str(row["kgtool_o"]), row["kgtool_o"])
                                 for row in answer.rows
                                 if row["kgtool_s"] is not None and row["kgtool_o"] is not None)
            rows: list[Row] = []
            iris = [key for key, term in on_cycle.items() if isinstance(term, ox.NamedNode)]
            for start in range(0, len(iris), 200):  # few: the nodes on a cycle, asked whether they are focus nodes
                listed = ", ".join(iris[start:start + 200])
                rows += compiler.query(f"SELECT DISTINCT ?this WHERE {{ {focus} FILTER (?this IN ({listed})) }}")
            if any(isinstance(term, ox.BlankNode) for term in on_cycle.values()):  # no constants for blank nodes
                rows += [row for row in compiler.query(f"SELECT DISTINCT ?this WHERE {{ {focus} }}")
                         if isinstance(row["this"], ox.BlankNode) and str(row["this"]) in on_cycle]
            return self._sparql_results(compiler, info, path, constraint, Solutions(("this",), rows))

        return _Job(f"SELECT DISTINCT ?kgtool_s ?kgtool_o WHERE {{ {constraint.edges} }}", cycles, weight=2,
                    user_query=f"{_show(self.shapes, info.node)}: its SPARQL constraint (the steps of its path)")

    def _sparql_results(self, compiler: _Compiler, info: _ShapeInfo, path: Node | None,
                        constraint: _SelectConstraint, answer: Solutions) -> list[_Result]:
        """The results of a SPARQL constraint's solutions, as pySHACL makes them."""
        seen: set[tuple[Any, ...]] = set()
        results: list[_Result] = []
        for solution in answer.rows:
            bound = {v: solution[v] for v in answer.variables if solution[v] is not None}
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
            if "value" in formatted:
                formatted["value"] = compiler.original(focus_node, result_path, formatted["value"]) \
                    or formatted["value"]
            messages = [_format(m, formatted) for m in constraint.messages]
            messages += [_format(m, formatted) for m in info.messages if m not in constraint.messages]
            results.append(_Result(focus_node, result_path, value, info.node, SH.SPARQLConstraintComponent,
                                   info.severity, messages, constraint.node))
        return results


def _on_cycle(edges: Iterable[tuple[str, Any, str, Any]]) -> dict[str, Any]:
    """The nodes that reach themselves through one or more edges (keys and terms of each edge's ends):
    the members of strongly connected components of two or more nodes, and nodes with an edge to
    themselves (Tarjan's algorithm, without recursion)."""
    successors: dict[str, list[str]] = {}
    terms: dict[str, Any] = {}
    looped: set[str] = set()
    for source, source_term, target, target_term in edges:
        successors.setdefault(source, []).append(target)
        successors.setdefault(target, [])
        terms[source], terms[target] = source_term, target_term
        if source == target:
            looped.add(source)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = set(looped)
    for root in sorted(successors):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            following = successors[node]
            if position < len(following):
                work.append((node, position + 1))
                child = following[position]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.update(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return {key: terms[key] for key in sorted(found)}


@dataclass(frozen=True)
class _Job:
    """One query and how its rows become results."""

    text: str
    read: Callable[[Solutions], list[_Result]]
    weight: int = 1  # heavier jobs start first
    user_query: str | None = None  # whose SPARQL it is, when it is the shapes graph's own (it may not parse)
    needed: Callable[[], bool] | None = None  # asked first: when false, the query cannot fail and is skipped


def _in_parallel(runner: QueryRunner, tasks: Sequence[Callable[[], T]]) -> list[T]:
    """The tasks' results, in order, `runner.workers` tasks at a time (Oxigraph releases the GIL while it
    evaluates a query, so threads use every core)."""
    if runner.workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(runner.workers, len(tasks))) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _run_job(runner: QueryRunner, job: _Job) -> list[_Result]:
    if job.needed is not None and not job.needed():
        return []
    try:
        answer = runner.select(job.text)
    except SyntaxError as error:
        if job.user_query is None:
            raise
        raise BadInputError(f"{job.user_query} does not parse: {' '.join(str(error).split())[:300]}") from None
    except ExternalComponentError as error:  # a server refusing the shapes graph's own query
        if job.user_query is None or not re.search(r"HTTP (400|500)\b", error.message):
            raise
        raise UnsupportedShapeError([f"{job.user_query} fails on the server: {error.message}"], remote=True) from None
    return job.read(answer)


def _execute(runner: QueryRunner, jobs: Sequence[_Job]) -> list[_Result]:
    """Run the jobs, heaviest first, `runner.workers` at a time; the results in the jobs' order."""
    order = sorted(range(len(jobs)), key=lambda index: -jobs[index].weight)
    found = dict(zip(order, _in_parallel(runner, [partial(_run_job, runner, jobs[index]) for index in order])))
    return [result for index in range(len(jobs)) for result in found[index]]


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
    return _as_written([o for o in source.objects(focus, path) if isinstance(o, Literal)], value)


def _as_written(candidates: list[Literal], value: Literal) -> Literal:
    """The one literal of `candidates` (the values as written) that `value` (as stored) stands for."""
    if value in candidates:
        return value
    strings = (None, XSD.string)
    with _quiet_rdflib():
        matches = [o for o in candidates if str(o.language or "").lower() == str(value.language or "").lower()
                   and (str(o) == str(value) or o.eq(value))
                   and (o.datatype == value.datatype or str(o.datatype) in NORMALISED
                        or (o.datatype in strings and value.datatype in strings))]
    return matches[0] if len(matches) == 1 else value


def _generic_message(result: _Result) -> Literal:
    return Literal(default_message(result.component, result.value))


def _copy(shapes: Graph, report: Graph, node: Node) -> None:
    """Copy a blank node's description (a path, a nested shape, a list of any length), and the blank nodes
    it leads to, from the shapes graph to the report."""
    todo, seen = [node], set()
    while todo:
        current = todo.pop()
        if not isinstance(current, BNode) or current in seen:
            continue
        seen.add(current)
        for p, o in shapes.predicate_objects(current):
            report.add((current, p, o))
            todo.append(o)


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
    ordered = tuple(sorted(results, key=result_key))
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


__all__ = ["EVERY_PREDICATE", "LEXICAL_GRAPH", "ShapesPlan", "UnsupportedShapeError",
           "datatype_conforms", "keeps_verbatim", "language_cases", "load_store", "mark_verbatim", "read_ntriples",
           "validate_sparql", "verbatim_copies"]
