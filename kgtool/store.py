"""Which in-process store backs a graph, and how SPARQL runs on it. The one place to change engines."""
from __future__ import annotations

from collections.abc import Mapping

from rdflib import Graph
from rdflib.query import Result
from rdflib.term import Identifier

from .namespaces import PREFIXES


def new_graph() -> Graph:
    """An empty in-memory graph with exactly the project's prefixes bound."""
    graph = Graph(bind_namespaces="none")
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True, replace=True)
    return graph


def run_query(graph: Graph, sparql: str, bindings: Mapping[str, Identifier] | None = None) -> Result:
    """Run SPARQL on the graph with the project's prefixes predeclared and values bound, never spliced."""
    return graph.query(sparql, initNs=PREFIXES, initBindings=dict(bindings or {}))
