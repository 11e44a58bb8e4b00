"""Write the graph in the serialisations other systems ingest, byte-stable for the same triples."""
from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from .rdfio import RdfFormat, serialise, write_atomic


def write_graph(graph: Graph, output: Path, rdf_format: RdfFormat = RdfFormat.TURTLE) -> int:
    """Serialise canonically and write atomically; returns the number of bytes written."""
    data = serialise(graph, rdf_format)
    write_atomic(output, data)
    return len(data)
