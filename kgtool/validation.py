"""Which SHACL engine validates a graph, and where.

- `Engine.PYSHACL`: pySHACL on an rdflib graph (`kgtool.validate`), the reference implementation.
- `Engine.SPARQL`: the shapes compiled to SPARQL (`kgtool.shacl_sparql`), run on Oxigraph in this process
  (data files are loaded straight into Oxigraph, never through rdflib), or on a SPARQL server where the
  graph lives (`kgtool.endpoint.EndpointRunner`).
- `Engine.AUTO`: pySHACL below `AUTO_SPARQL_FROM` triples, the SPARQL engine from there up (and always on
  a server, where pySHACL cannot run).

Every engine gives the same `ValidationReport` (the same results, under the same SHACL names), so the
renderers of `kgtool.render` write the same `--format json` whichever ran. `validate_with` returns it in
a `Validation`, beside which engine ran and the labels the text and JUnit reports show.

Why 20,000 triples: pySHACL is the reference, so it runs wherever it is affordable. It takes 2-3 s at
10k triples and grows linearly from there (about 6 s at 20k, 29 s at 100k on the benchmark machine),
while the SPARQL engine takes 0.1 s at 10k and gives the same results on every shape fixture, the
shipped graph and the synthetic graphs with planted violations (tests/test_shacl_sparql.py). Below
20k triples, which covers the shipped graph (about 6k) with room to grow, a validation takes seconds
either way; above it pySHACL's minutes are not worth waiting for.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef

from .endpoint import Endpoint, EndpointRunner, remote_labels
from .errors import BadInputError
from .namespaces import RDFS, SH
from .rdfio import load_graph
from .shacl_sparql import ShapesPlan, UnsupportedShapeError, load_store
from .store import new_graph, to_oxigraph, to_rdflib
from .validate import Inference, ValidationReport, validate

AUTO_SPARQL_FROM = 20_000  # triples (data and ontology): from here up, Engine.AUTO takes the SPARQL engine


class Engine(str, Enum):
    """Which SHACL engine validates."""

    AUTO = "auto"
    PYSHACL = "pyshacl"
    SPARQL = "sparql"


@dataclass(frozen=True)
class Validation:
    """A validation's report, the engine that made it (never AUTO), how many triples it read (None on a
    server), and a graph with the focus nodes' labels and kgtool's prefixes, for the text and JUnit
    reports."""

    report: ValidationReport
    engine: Engine
    triples: int | None
    labels: Graph


def validate_with(source: Graph | Sequence[Path] | Endpoint, shapes: Graph, *, engine: Engine = Engine.AUTO,
                  ontology: Sequence[Path] = (), inference: Inference = Inference.NONE) -> Validation:
    """Validate `source` against `shapes` with the chosen engine.

    `source` is an rdflib graph (which should include the ontology, as the built graph does), RDF files
    (validated together with the `ontology` files), or a SPARQL endpoint whose default graph (see
    `kgtool.endpoint.connect`, `default_graph`) holds the data and the ontology. Inference (rdfs, owlrl)
    is pySHACL's: Engine.AUTO then takes pySHACL whatever the size."""
    if isinstance(source, Endpoint):
        return _remote(source, shapes, engine, inference)
    if inference is not Inference.NONE:
        if engine is Engine.SPARQL:
            raise BadInputError(f"--inference {inference.value} needs the pySHACL engine",
                                hint="use --engine pyshacl (or auto), or --inference none")
        engine = Engine.PYSHACL
    plan: ShapesPlan | None = None
    if engine is not Engine.PYSHACL:
        try:
            plan = ShapesPlan(shapes)
        except UnsupportedShapeError:
            if engine is Engine.SPARQL:
                raise
    if isinstance(source, Graph):
        return _graph(source, shapes, plan if engine is Engine.SPARQL or len(source) >= AUTO_SPARQL_FROM else None,
                      inference)
    paths = [*source, *ontology]
    if plan is None:
        return _graph(load_graph(*paths), shapes, None, inference)
    try:
        store = load_store(*paths, preserve=plan.preserved)
    except BadInputError:
        if engine is Engine.SPARQL:
            raise
        return _graph(load_graph(*paths), shapes, None, inference)  # rdflib's parser says where it breaks
    triples = _count(store)
    if engine is Engine.AUTO and triples < AUTO_SPARQL_FROM:
        return _graph(load_graph(*paths), shapes, None, inference)
    report = plan.validate(store)
    return Validation(report, Engine.SPARQL, triples, _store_labels(store, report))


def _graph(graph: Graph, shapes: Graph, plan: ShapesPlan | None, inference: Inference) -> Validation:
    if plan is None:
        report = validate(graph, shapes, inference=inference)
        engine = Engine.PYSHACL
    else:
        report = plan.validate(load_store(graph, preserve=plan.preserved), source=graph)
        engine = Engine.SPARQL
    graph.bind("sh", SH)  # as pySHACL binds it: the reports name components sh:...
    return Validation(report, engine, len(graph), graph)


def _labels() -> Graph:
    labels = new_graph()
    labels.bind("sh", SH)
    return labels


def _remote(endpoint: Endpoint, shapes: Graph, engine: Engine, inference: Inference) -> Validation:
    if engine is Engine.PYSHACL:
        raise BadInputError("pySHACL cannot validate a graph on a SPARQL server",
                            hint="use --engine sparql (or auto) with --endpoint, or validate a local copy")
    if inference is not Inference.NONE:
        raise BadInputError(f"--inference {inference.value} cannot be used with --endpoint",
                            hint="the server's data is validated as it is")
    report = ShapesPlan(shapes).run(EndpointRunner(endpoint))
    labels = _labels()
    for node, label in remote_labels(endpoint, [r.focus_node for r in report.results]).items():
        labels.add((node, RDFS.label, Literal(label)))
    return Validation(report, Engine.SPARQL, None, labels)


def _count(store: Any) -> int:
    """Triples in the default graph (the named graphs of a store from `load_store` hold verbatim copies)."""
    copies = next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")))
    return len(store) - int(copies["n"].value)


def _store_labels(store: Any, report: ValidationReport) -> Graph:
    """The rdfs:labels of the report's focus nodes, looked up in the store's default graph."""
    labels = _labels()
    label = to_oxigraph(RDFS.label)
    for node in sorted({r.focus_node for r in report.results if isinstance(r.focus_node, URIRef)}):
        for quad in store.quads_for_pattern(to_oxigraph(node), label, None, ox.DefaultGraph()):
            labels.add((node, RDFS.label, to_rdflib(quad.object)))
    return labels


__all__ = ["AUTO_SPARQL_FROM", "Engine", "Validation", "validate_with"]
