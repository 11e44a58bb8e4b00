"""SHACL validation with pySHACL. The only pyshacl import.

The data graph is validated together with the ontology, so `sh:targetClass kg:Company` also
reaches instances of kg:StateCorporation (SHACL follows rdfs:subClassOf in the data graph);
that is why no inference is needed by default.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from rdflib import Graph, URIRef
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
    return graph


def _results(report: Graph) -> tuple[ValidationResult, ...]:
    results = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        severity_iri = report.value(node, SH.resultSeverity)
        severity = next((s for s in Severity if s.iri == severity_iri), Severity.VIOLATION)
        messages = sorted(str(m) for m in report.objects(node, SH.resultMessage))
        results.append(ValidationResult(
            focus_node=report.value(node, SH.focusNode),  # type: ignore[arg-type]
            result_path=report.value(node, SH.resultPath),
            value=report.value(node, SH.value),
            source_shape=report.value(node, SH.sourceShape),  # type: ignore[arg-type]
            source_constraint_component=report.value(node, SH.sourceConstraintComponent),  # type: ignore[arg-type]
            severity=severity,
            message=messages[0] if messages else "",
        ))
    order = {Severity.VIOLATION: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return tuple(sorted(results, key=lambda r: (order[r.severity], str(r.source_shape), str(r.focus_node),
                                                str(r.result_path), str(r.value))))


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


def validate(data: Graph, shapes: Graph, *, inference: Inference = Inference.NONE,
             meta_shacl: bool = False) -> ValidationReport:
    """Validate `data` (which should include the ontology) against `shapes` with pySHACL."""
    import pyshacl  # heavy: imported only when validating

    try:
        with _parse_each_query_once():
            conforms, report_graph, _ = pyshacl.validate(
                data, shacl_graph=shapes, inference=None if inference is Inference.NONE else inference.value,
                advanced=True, meta_shacl=meta_shacl, allow_warnings=False, allow_infos=False, debug=False,
                inplace=inference is Inference.NONE)
    except pyshacl.errors.ReportableRuntimeError as error:
        raise BadInputError(f"the shapes graph is not valid SHACL: {' '.join(str(error).split())[:400]}") from None
    report = new_graph()
    report += report_graph
    return ValidationReport(bool(conforms), report, _results(report))
