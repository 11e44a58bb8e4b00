"""Which SHACL engine validates a graph, and where.

- `Engine.PYSHACL`: pySHACL on an rdflib graph (`kgtool.validate`), the reference implementation.
- `Engine.SPARQL`: the shapes compiled to SPARQL (`kgtool.shacl_sparql`), run on Oxigraph in this process
  (data files are loaded straight into Oxigraph, never through rdflib), or on a SPARQL server where the
  graph lives (`kgtool.endpoint.EndpointRunner`).
- `Engine.AUTO`: pySHACL below `AUTO_SPARQL_FROM` triples, the SPARQL engine from there up (and always on
  a server or a persistent store, where pySHACL cannot run). When the SPARQL engine would be taken but
  cannot be (shapes it does not support, data Oxigraph cannot read, inference), pySHACL runs and the
  `Validation` says why in its `notes`.

Every engine gives the same `ValidationReport` (the same results, under the same SHACL names, in the one
order of `kgtool.validate.result_key`), so the renderers of `kgtool.render` write the same `--format
json` whichever ran. `validate_with` returns it in a `Validation`, beside which engine ran, how many
triples it read, what the user should know about the run (`notes`), and the labels the text and JUnit
reports show.

Sources: an rdflib graph, RDF files, a persistent store (`kgtool.store.Store` on disk, filled by
`kgtool.cache.fill_store` with the verbatim copies of literals validation needs), or a SPARQL endpoint
(`kgtool.endpoint.Endpoint`: the graph is validated where it lives; see `kgtool.endpoint.EndpointRunner`
for what is done differently on Virtuoso and on servers that keep literals only in canonical form).

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
from .shacl_sparql import RETYPED_TO, ShapesPlan, UnsupportedShapeError, keeps_verbatim, load_store
from .store import Store, default_graph_size, new_graph, to_oxigraph, to_rdflib
from .validate import Inference, ValidationReport, validate

AUTO_SPARQL_FROM = 20_000  # triples (data and ontology): from here up, Engine.AUTO takes the SPARQL engine


class Engine(str, Enum):
    """Which SHACL engine validates."""

    AUTO = "auto"
    PYSHACL = "pyshacl"
    SPARQL = "sparql"


_NAMES = {Engine.PYSHACL: "pySHACL", Engine.SPARQL: "the SPARQL engine"}


@dataclass(frozen=True)
class Validation:
    """A validation's report, the engine that made it (never AUTO), how many triples it read (None on a
    server), a graph with the focus nodes' labels and kgtool's prefixes (for the text and JUnit reports),
    where it ran (`where`: "" here, the endpoint URL on a server) and `notes`: what the user should be
    told about the run (why Engine.AUTO did not take the SPARQL engine, what a server cannot check)."""

    report: ValidationReport
    engine: Engine
    triples: int | None
    labels: Graph
    notes: tuple[str, ...] = ()
    where: str = ""

    @property
    def summary(self) -> str:
        """One line: what was validated, with which engine ("validated 1,000,001 triples with the SPARQL
        engine")."""
        if self.triples is None:
            return f"validated the graph at {self.where} with {_NAMES[self.engine]}, on the server"
        return f"validated {self.triples:,} triples with {_NAMES[self.engine]}"


def validate_with(source: Graph | Sequence[Path] | Store | Endpoint, shapes: Graph, *, engine: Engine = Engine.AUTO,
                  ontology: Sequence[Path] = (), inference: Inference = Inference.NONE) -> Validation:
    """Validate `source` against `shapes` with the chosen engine.

    `source` is an rdflib graph (which should include the ontology, as the built graph does), RDF files
    (validated together with the `ontology` files), a persistent store on disk (`kgtool store`, `kgtool
    build --store`; it holds the ontology when it was filled with it) or a SPARQL endpoint whose default
    graph (see `kgtool.endpoint.connect`, `default_graph`) holds the data and the ontology. Inference
    (rdfs, owlrl) is pySHACL's: Engine.AUTO then takes pySHACL whatever the size."""
    if isinstance(source, Endpoint):
        return _remote(source, shapes, engine, inference)
    if isinstance(source, Store):
        return _stored(source, shapes, engine, inference)
    why: str | None = None  # why Engine.AUTO cannot take the SPARQL engine
    if inference is not Inference.NONE:
        if engine is Engine.SPARQL:
            raise BadInputError(f"--inference {inference.value} needs the pySHACL engine",
                                hint="use --engine pyshacl (or auto), or --inference none")
        if engine is Engine.AUTO:
            why = f"inference ({inference.value}) is pySHACL's"
        engine = Engine.PYSHACL
    plan: ShapesPlan | None = None
    if engine is not Engine.PYSHACL:
        try:
            plan = ShapesPlan(shapes)
        except UnsupportedShapeError as error:
            if engine is Engine.SPARQL:
                raise
            why = "the SPARQL engine does not support what these shapes use (" + "; ".join(error.problems) + ")"
    if isinstance(source, Graph):
        by_size = engine is Engine.SPARQL or len(source) >= AUTO_SPARQL_FROM
        return _noted(_graph(source, shapes, plan if by_size else None, inference), why)
    paths = [*source, *ontology]
    if plan is None:
        return _noted(_graph(load_graph(*paths), shapes, None, inference), why)
    try:
        store = load_store(*paths, preserve=plan.preserved)
    except BadInputError as error:
        if engine is Engine.SPARQL:
            raise
        done = _graph(load_graph(*paths), shapes, None, inference)  # rdflib's parser says where it breaks
        return _noted(done, f"Oxigraph could not read the data ({error.render().splitlines()[0]})", always=True)
    triples = default_graph_size(store)
    if engine is Engine.AUTO and triples < AUTO_SPARQL_FROM:
        return _graph(load_graph(*paths), shapes, None, inference)
    report = plan.validate(store)
    return Validation(report, Engine.SPARQL, triples, _store_labels(store, report))


def _noted(done: Validation, why: str | None, *, always: bool = False) -> Validation:
    """The validation, with a note saying why Engine.AUTO ran pySHACL where the SPARQL engine would have
    been taken (from AUTO_SPARQL_FROM triples up), if that is what happened."""
    if why is None or done.engine is not Engine.PYSHACL or not (always or (done.triples or 0) >= AUTO_SPARQL_FROM):
        return done
    note = (f"--engine auto validated {done.triples:,} triples with pySHACL, not the SPARQL engine, because {why}"
            + ("" if always else f" (the SPARQL engine is taken from {AUTO_SPARQL_FROM:,} triples up)"))
    return Validation(done.report, done.engine, done.triples, done.labels, (*done.notes, note), done.where)


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


def _sparql_only(engine: Engine, inference: Inference, option: str, refusal: str, *, engine_hint: str,
                 inference_hint: str) -> None:
    """BadInputError when pySHACL or its inference is asked for where only the SPARQL engine can run."""
    if engine is Engine.PYSHACL:
        raise BadInputError(refusal, hint=engine_hint)
    if inference is not Inference.NONE:
        raise BadInputError(f"--inference {inference.value} cannot be used with {option}", hint=inference_hint)


def _stored(store: Store, shapes: Graph, engine: Engine, inference: Inference) -> Validation:
    """A persistent store, with the SPARQL engine: pySHACL would read Oxigraph's canonical literals
    ("5"^^xsd:integer for "05"^^xsd:nonNegativeInteger) and report datatypes the data does not have."""
    _sparql_only(engine, inference, "--store",
                 "pySHACL cannot validate a store: a store keeps literals in Oxigraph's canonical form",
                 engine_hint="use --engine sparql (or auto) with --store, or validate the RDF files",
                 inference_hint="inference is pySHACL's: validate the RDF files with --engine pyshacl")
    plan = ShapesPlan(shapes)
    if not keeps_verbatim(store.oxigraph):
        raise BadInputError("this store was made before kgtool kept the original form of literals, which "
                            "validation needs", path=store.path,
                            hint="rebuild it with `kgtool store PATH FILE...` (or `kgtool build --store PATH`)")
    report = plan.validate(store.oxigraph)
    return Validation(report, Engine.SPARQL, len(store), _store_labels(store.oxigraph, report))


def _remote(endpoint: Endpoint, shapes: Graph, engine: Engine, inference: Inference) -> Validation:
    _sparql_only(engine, inference, "--endpoint", "pySHACL cannot validate a graph on a SPARQL server",
                 engine_hint="use --engine sparql (or auto) with --endpoint, or validate a local copy",
                 inference_hint="the server's data is validated as it is")
    plan = ShapesPlan(shapes)
    runner = EndpointRunner(endpoint)
    report = plan.run(runner)
    labels = _labels()
    for node, label in remote_labels(endpoint, [r.focus_node for r in report.results]).items():
        labels.add((node, RDFS.label, Literal(label)))
    notes = []
    retyped = sorted({shapes.namespace_manager.normalizeUri(d) for d in shapes.objects(None, SH.datatype)
                      if isinstance(d, URIRef) and str(d) in RETYPED_TO})
    if runner.retypes and retyped:
        notes.append(f"the server ({runner.traits.software or 'its Server header is empty'}) keeps typed literals "
                     "only in canonical form (\"05\"^^xsd:nonNegativeInteger as \"5\"^^xsd:integer), so "
                     f"sh:datatype {', '.join(retyped)} was checked on the value: an xsd:integer (or, for "
                     "xsd:dateTimeStamp, an xsd:dateTime) in range passes, and a value written with the wrong "
                     "one of those types is not reported; validate a copy of the graph here (kgtool validate "
                     "FILE, or --store) for exact results")
    return Validation(report, Engine.SPARQL, None, labels, tuple(notes), endpoint.url)


def _store_labels(store: Any, report: ValidationReport) -> Graph:
    """The rdfs:labels of the report's focus nodes, looked up in the store's default graph."""
    labels = _labels()
    label = to_oxigraph(RDFS.label)
    for node in sorted({r.focus_node for r in report.results if isinstance(r.focus_node, URIRef)}):
        for quad in store.quads_for_pattern(to_oxigraph(node), label, None, ox.DefaultGraph()):
            labels.add((node, RDFS.label, to_rdflib(quad.object)))
    return labels


__all__ = ["AUTO_SPARQL_FROM", "Engine", "Validation", "validate_with"]
