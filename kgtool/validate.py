"""SHACL validation with pySHACL. The only pyshacl import.

The data graph is validated together with the ontology, so `sh:targetClass kg:Company` also
reaches instances of kg:StateCorporation (SHACL follows rdfs:subClassOf in the data graph);
that is why no inference is needed by default.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .errors import BadInputError
from .namespaces import RDF, SH
from .rdfio import load_graph
from .store import new_graph


class Inference(str, Enum):
    NONE = "none"
    RDFS = "rdfs"
    OWLRL = "owlrl"


class Severity(str, Enum):
    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"

    @property
    def iri(self) -> URIRef:
        return SH[self.value]


@dataclass(frozen=True)
class ValidationResult:
    """One sh:ValidationResult, under the SHACL names."""

    focus_node: Node
    result_path: Node | None
    value: Node | None
    source_shape: Node
    source_constraint_component: URIRef
    severity: Severity
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """pySHACL's report graph and its results; `conforms` is SHACL's (no result at any severity)."""

    conforms: bool
    graph: Graph = field(compare=False)
    results: tuple[ValidationResult, ...]

    def count(self, severity: Severity) -> int:
        return sum(1 for r in self.results if r.severity is severity)

    def fails(self, *, allow_warnings: bool = False) -> bool:
        """Violations always fail; warnings fail unless allowed; infos never do."""
        return self.count(Severity.VIOLATION) > 0 or (not allow_warnings and self.count(Severity.WARNING) > 0)


def load_shapes(paths: list[Path]) -> Graph:
    """The shapes graph from SHACL Turtle files (a folder means every *.ttl in it)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.ttl"))
        elif path.exists():
            files.append(path)
        else:
            raise BadInputError("shapes file not found", path=path)
    if not files:
        raise BadInputError("no shapes files (*.ttl) found", path=paths[0] if paths else None)
    graph = load_graph(*files)
    if not any(graph.subjects(RDF.type, SH.NodeShape)) and not any(graph.subjects(RDF.type, SH.PropertyShape)):
        raise BadInputError("no sh:NodeShape or sh:PropertyShape in the shapes graph: is this SHACL?",
                            path=files[0])
    stable_blank_nodes(graph)
    return graph


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode("utf-8")).hexdigest()


def _blank_hashes(blanks: list[BNode], edges: Callable[[Node], Iterable[tuple[str, Node]]]) -> dict[Node, str]:
    """A hash of each blank node over its `edges` (label, neighbour), neighbours that are blank nodes by
    their own hash, recursively (a node met again on the way is "_:cycle"). Depth-first with a stack of
    its own, not Python's: an RDF list of any length is one long chain."""
    done: dict[Node, str] = {}
    for root in blanks:
        if root in done:
            continue
        stack: list[tuple[Node, Iterator[tuple[str, Node]], list[str], str]] = [(root, iter(edges(root)), [], "")]
        on_stack = {root}
        while stack:
            node, pending, parts, reached_by = stack[-1]
            for label, other in pending:
                if not isinstance(other, BNode):
                    parts.append(f"{label} {other.n3()}")
                elif other in done:
                    parts.append(f"{label} {done[other]}")
                elif other in on_stack:
                    parts.append(f"{label} _:cycle")
                else:
                    stack.append((other, iter(edges(other)), [], label))
                    on_stack.add(other)
                    break
            else:
                done[node] = _digest(parts)
                stack.pop()
                on_stack.discard(node)
                if stack:  # the node it was reached from
                    stack[-1][2].append(f"{reached_by} {done[node]}")
    return done


def stable_blank_nodes(graph: Graph) -> None:
    """Relabel the graph's blank nodes, in place, by what they say and where they hang (a hash of their
    description, and of the triples that point at them, each recursively), so that a blank shape has the
    same label in every run: reports name it (sh:sourceShape) and the JSON report must not change from run
    to run. Nodes nothing tells apart get a counter after the hash."""
    blanks = sorted({term for triple in graph for term in triple if isinstance(term, BNode)}, key=str)
    if not blanks:
        return
    down = _blank_hashes(blanks, lambda node: ((p.n3(), o) for p, o in graph.predicate_objects(node)))
    up = _blank_hashes(blanks, lambda node: ((p.n3(), s) for s, p in graph.subject_predicates(node)))
    labels: dict[Node, BNode] = {}
    taken: dict[str, int] = {}
    for node in sorted(blanks, key=lambda b: (down[b], up[b], str(b))):
        label = _digest([down[node], up[node]])[:24]
        count = taken.get(label, 0)
        taken[label] = count + 1
        labels[node] = BNode(f"s{label}" + (f"-{count}" if count else ""))
    triples = [t for t in graph if any(isinstance(term, BNode) for term in t)]
    for triple in triples:
        graph.remove(triple)
    for s, p, o in triples:
        graph.add((labels.get(s, s), p, labels.get(o, o)))


SEVERITY_ORDER = {Severity.VIOLATION: 0, Severity.WARNING: 1, Severity.INFO: 2}


def result_key(result: ValidationResult) -> tuple[Any, ...]:
    """The one order of a report's results, whichever engine made it: by severity, then every field, so
    that two results in the same place are the same result and the report renders the same every time."""
    def text(term: Node | None) -> str:
        return "" if term is None else term.n3() if isinstance(term, Literal) else str(term)

    return (SEVERITY_ORDER[result.severity], text(result.source_shape), text(result.focus_node),
            text(result.result_path), text(result.value), text(result.source_constraint_component), result.message)


def default_message(component: Node | None, value: Node | None) -> str:
    """The message of a result whose shape (or SPARQL constraint) gives no sh:message: the same from
    both engines, whose own wordings differ ("String language is not in ..." from pySHACL, "LanguageIn
    constraint not satisfied by ..." from the SPARQL engine)."""
    name = str(component).rsplit("#", 1)[-1].replace("ConstraintComponent", "")
    return f"{name} constraint not satisfied" + (f" by {value.n3()}" if value is not None else "")


def has_message(shapes: Graph, shape: Node | None, constraint: Node | None) -> bool:
    """Whether the result's messages come from the shapes graph (sh:message of the SPARQL constraint or
    of the shape) rather than from the engine."""
    return any(True for node in (constraint, shape) if node is not None for _ in shapes.objects(node, SH.message))


def _results(report: Graph, shapes: Graph | None = None) -> tuple[ValidationResult, ...]:
    """The results of a report graph; with the shapes graph, a result whose shape gives no sh:message has
    the `default_message`."""
    results = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        severity_iri = report.value(node, SH.resultSeverity)
        severity = next((s for s in Severity if s.iri == severity_iri), Severity.VIOLATION)
        messages = sorted(str(m) for m in report.objects(node, SH.resultMessage))
        shape, component, value = (report.value(node, SH.sourceShape), report.value(node, SH.sourceConstraintComponent),
                                   report.value(node, SH.value))
        message = messages[0] if messages else ""
        if shapes is not None and not has_message(shapes, shape, report.value(node, SH.sourceConstraint)):
            message = default_message(component, value)
        results.append(ValidationResult(
            focus_node=report.value(node, SH.focusNode),  # type: ignore[arg-type]
            result_path=report.value(node, SH.resultPath),
            value=value,
            source_shape=shape,  # type: ignore[arg-type]
            source_constraint_component=component,  # type: ignore[arg-type]
            severity=severity,
            message=message,
        ))
    return tuple(sorted(results, key=result_key))


@contextmanager
def _parse_each_query_once() -> Iterator[None]:
    """Within the block, rdflib parses each distinct SPARQL text once instead of once per call.

    pySHACL hands rdflib the text of a SHACL-SPARQL constraint for every focus node, and rdflib
    parses it every time (10-25 ms each): 14.5 s instead of 2 s on the shipped graph. A translated
    query is what rdflib's prepareQuery returns, and evaluating it does not change it, so results
    are identical. The original method is restored when the block ends.
    """
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.processor import SPARQLProcessor

    original = SPARQLProcessor.query
    prepared: dict[tuple[Any, ...], Any] = {}

    def query(self: SPARQLProcessor, strOrQuery: Any, initBindings: Any = None,  # noqa: N803 - rdflib's names
              initNs: Any = None, base: Any = None, DEBUG: bool = False) -> Any:  # noqa: N803
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
            if key not in prepared:
                prepared[key] = translateQuery(parseQuery(strOrQuery), base, initNs)
            strOrQuery = prepared[key]
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        SPARQLProcessor.query = original  # type: ignore[method-assign]


@contextmanager
def _literal_converters_kept() -> Iterator[None]:
    """Put rdflib's table of literal converters back as it was afterwards: OWL-RL inference (owlrl, which
    pySHACL runs for --inference) replaces some of them for the whole process with its own, and its
    xsd:gMonthDay converter rejects "--12-01", so every literal parsed later would be judged ill-typed."""
    from rdflib.term import _toPythonMapping  # noqa: PLC2701 - the table owlrl changes in place

    saved = dict(_toPythonMapping)
    try:
        yield
    finally:
        _toPythonMapping.clear()
        _toPythonMapping.update(saved)


def validate(data: Graph, shapes: Graph, *, inference: Inference = Inference.NONE,
             meta_shacl: bool = False) -> ValidationReport:
    """Validate `data` (which should include the ontology) against `shapes` with pySHACL."""
    import pyshacl  # heavy: imported only when validating

    try:
        with _parse_each_query_once(), _literal_converters_kept():
            conforms, report_graph, _ = pyshacl.validate(
                data, shacl_graph=shapes, inference=None if inference is Inference.NONE else inference.value,
                advanced=True, meta_shacl=meta_shacl, allow_warnings=False, allow_infos=False, debug=False,
                inplace=inference is Inference.NONE)
    except pyshacl.errors.ReportableRuntimeError as error:
        raise BadInputError(f"the shapes graph is not valid SHACL: {' '.join(str(error).split())[:400]}") from None
    if isinstance(report_graph, pyshacl.errors.ValidationFailure):  # returned, not raised (e.g. SERVICE)
        raise BadInputError(f"pySHACL could not validate: {' '.join(str(report_graph.message).split())[:400]}",
                            hint="a SHACL-SPARQL constraint that uses SERVICE, or a shape pySHACL cannot evaluate; "
                                 "fix or leave out that shape (--shapes)")
    if not isinstance(report_graph, Graph):  # pragma: no cover - pySHACL returns a graph or a failure
        raise TypeError(f"pySHACL returned {type(report_graph).__name__}, not a report graph")
    report = new_graph()
    report += report_graph
    return ValidationReport(bool(conforms), report, _results(report, shapes))
