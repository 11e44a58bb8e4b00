"""Parse RDF with clear errors, serialise canonically, and write files atomically."""
from __future__ import annotations

import json
import os
import re
import tempfile
from enum import Enum
from pathlib import Path

from rdflib import Graph
from rdflib.compare import to_canonical_graph

from .errors import BadInputError
from .store import new_graph


class RdfFormat(str, Enum):
    """Serialisations kgtool writes, with rdflib's name for each."""

    TURTLE = "turtle"
    NTRIPLES = "ntriples"
    JSONLD = "jsonld"
    RDFXML = "rdfxml"

    @property
    def suffix(self) -> str:
        return {"turtle": ".ttl", "ntriples": ".nt", "jsonld": ".jsonld", "rdfxml": ".rdf"}[self.value]


PARSE_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".owl": "xml", ".xml": "xml",
                 ".jsonld": "json-ld", ".nq": "nquads", ".trig": "trig"}
_LINE = re.compile(r"line (\d+)", re.IGNORECASE)


def parse_into(graph: Graph, path: Path, rdf_format: str | None = None) -> None:
    """Parse a local RDF file into `graph`; any failure is a BadInputError with the line when known."""
    fmt = rdf_format or PARSE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInputError(f"unknown RDF file type {path.suffix!r}", path=path,
                            hint=f"use one of {', '.join(sorted(PARSE_FORMATS))}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", path=path) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise BadInputError("not valid UTF-8", path=path, line=line) from None
    try:
        graph.parse(data=data, format=fmt, publicID=path.resolve().as_uri())
    except Exception as error:  # rdflib raises many types for bad syntax; all mean bad input here
        message = " ".join(str(error).split()) or type(error).__name__
        match = _LINE.search(message)
        raise BadInputError(f"malformed {fmt}: {message[:300]}", path=path,
                            line=int(match.group(1)) if match else None,
                            hint="fix the syntax at that line and run again") from None


def load_graph(*paths: Path) -> Graph:
    """A new graph holding the triples of all the files."""
    graph = new_graph()
    for path in paths:
        parse_into(graph, path)
    return graph


def canonical_copy(graph: Graph) -> Graph:
    """The same graph with blank nodes labelled by content and triples inserted in sorted order,
    so that serialisers which follow insertion order give the same bytes every time."""
    copy = new_graph()
    for triple in sorted(to_canonical_graph(graph), key=lambda t: tuple(term.n3() for term in t)):
        copy.add(triple)
    return copy


def serialise(graph: Graph, rdf_format: RdfFormat) -> bytes:
    """Bytes that depend only on the graph's triples (sorted, stable prefixes, no random labels)."""
    if rdf_format is RdfFormat.TURTLE:
        return graph.serialize(format="longturtle", encoding="utf-8")
    copy = canonical_copy(graph)
    if rdf_format is RdfFormat.NTRIPLES:
        lines = sorted(set(copy.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines()))
        return ("\n".join(line for line in lines if line) + "\n").encode("utf-8")
    if rdf_format is RdfFormat.JSONLD:
        context = {prefix: iri for prefix, iri in sorted(graph.namespaces()) if prefix}
        document = json.loads(copy.serialize(format="json-ld", context=context, auto_compact=True))
        if isinstance(document.get("@graph"), list):
            document["@graph"].sort(key=lambda node: str(node.get("@id", "")))
        return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    return _sorted_rdfxml(copy.serialize(format="xml", encoding="utf-8").decode("utf-8")).encode("utf-8")


def _sorted_rdfxml(text: str) -> str:
    """rdflib's flat RDF/XML with its rdf:Description blocks in sorted order (its own order varies)."""
    head, _, rest = text.partition("  <rdf:Description")
    body, _, tail = rest.rpartition("  </rdf:Description>")
    blocks = ("  <rdf:Description" + body + "  </rdf:Description>").split("  </rdf:Description>\n")
    blocks = [b if b.endswith("  </rdf:Description>") else b + "  </rdf:Description>" for b in blocks if b.strip()]
    return head + "\n".join(sorted(blocks)) + tail


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
