"""Which in-process store backs a graph, and how SPARQL runs on it. The one place to change engines.

Two engines, each used for what it is good at (see field-notes: pyoxigraph / oxrdflib):

- **Oxigraph** (pyoxigraph), the default for SPARQL: `Store` holds a pyoxigraph store in memory or on
  disk (`Store.on_disk`, reused by later commands without re-parsing). Queries run there.
- **rdflib's memory store**, where code walks triples one by one or needs rdflib's API (the build,
  pySHACL, the canonical serialisers): `new_graph()`. `Store.from_graph` / `Store.to_graph` convert.

Oxigraph keeps literals of the XSD types it knows in canonical form ("28700000.0"^^xsd:decimal comes
back as "28700000", xsd:nonNegativeInteger as xsd:integer, language tags lower-cased): the same value, not
always the same text. `query_graph(..., engine=Engine.RDFLIB)` runs on rdflib's engine instead.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.query import Result
from rdflib.term import Identifier, Node

from .errors import BadInputError
from .namespaces import PREFIXES, XSD
from .untrusted import check_rdf

_XSD_STRING = str(XSD.string)
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
FINGERPRINT_FILE = "kgtool-store.json"

OX_FORMATS = {".nt": ox.RdfFormat.N_TRIPLES, ".ttl": ox.RdfFormat.TURTLE, ".nq": ox.RdfFormat.N_QUADS,
              ".trig": ox.RdfFormat.TRIG, ".rdf": ox.RdfFormat.RDF_XML, ".owl": ox.RdfFormat.RDF_XML,
              ".xml": ox.RdfFormat.RDF_XML, ".jsonld": ox.RdfFormat.JSON_LD, ".n3": ox.RdfFormat.N3}


def _refuse_hostile(path: Path, fmt: Any) -> None:
    """What Oxigraph's own parsers would do with a hostile file and kgtool must not: expand entities in
    RDF/XML, fetch a JSON-LD @context (kgtool.untrusted). Its Turtle family parsers stream with bounded
    memory, so those files are not scanned twice."""
    if fmt in (ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD):
        check_rdf(path.read_bytes(), "xml" if fmt is ox.RdfFormat.RDF_XML else "json-ld", path=path)


def _ntriples(triples: Iterable[Any]) -> bytes:
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert data is not None  # serialize returns the bytes when given no output
    return data


def _split_blank_node_lines(data: bytes) -> tuple[bytes, bytes]:
    """N-Triples as (lines with no blank node, lines that may hold one), each in the original order."""
    if b"_:" not in data:
        return data, b""
    plain: list[bytes] = []
    labelled: list[bytes] = []
    for line in data.splitlines(keepends=True):
        (labelled if b"_:" in line else plain).append(line)
    return b"".join(plain), b"".join(labelled)


def default_graph_size(inner: Any) -> int:
    """Triples in a pyoxigraph store's default graph: the data. A store that kgtool.cache.fill_store or
    kgtool.shacl_sparql.load_store wrote also holds validation's own named graphs (verbatim copies of
    literals), which are not data."""
    total = len(inner)
    if next(iter(inner.named_graphs()), None) is None:
        return total
    named = next(iter(inner.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")))
    return total - int(named["n"].value)


class Engine(str, Enum):
    """The SPARQL engine of the embedded store."""

    OXIGRAPH = "oxigraph"
    RDFLIB = "rdflib"


DEFAULT_ENGINE = Engine.OXIGRAPH


def new_graph() -> Graph:
    """An empty in-memory rdflib graph with exactly the project's prefixes bound."""
    graph = Graph(bind_namespaces="none")
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True, replace=True)
    return graph


# ---- terms ---------------------------------------------------------------------------------------------

def to_rdflib(term: Any) -> Node:
    """An Oxigraph term as the rdflib term it stands for (a simple literal stays plain, as rdflib parses it)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value, datatype=None if datatype == _XSD_STRING else URIRef(datatype))
    raise BadInputError(f"kgtool cannot use the RDF term {term!r} (RDF-star is not supported)")


def to_oxigraph(term: Node) -> Any:
    """An rdflib term as an Oxigraph term."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None and str(term.datatype) != _RDF_LANG_STRING:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise BadInputError(f"cannot store {term!r}: only IRIs, blank nodes and literals")


# ---- answers --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """A query's answer as plain, picklable rdflib values: `kind` is "rows", "boolean" or "graph"."""

    kind: str
    variables: tuple[str, ...] = ()
    rows: tuple[tuple[Node | None, ...], ...] = ()
    boolean: bool | None = None
    triples: tuple[tuple[Node, Node, Node], ...] = ()


class UnprojectedBindingError(Exception):
    """Oxigraph substitutes values only for projected variables; the caller binds another way."""


def _answer_from_rdflib(result: Result) -> Answer:
    if result.type == "ASK":
        return Answer("boolean", boolean=bool(result.askAnswer))
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        assert result.graph is not None
        return Answer("graph", triples=tuple(result.graph))
    variables = tuple(str(v) for v in result.vars or ())
    return Answer("rows", variables, tuple(tuple(row) for row in result))  # type: ignore[arg-type]


def _answer_from_oxigraph(result: Any) -> Answer:
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", boolean=bool(result))
    converted: dict[Any, Node] = {}  # an answer repeats its terms: each is converted once (and shared)

    def term(value: Any) -> Node:
        found = converted.get(value)
        if found is None:
            found = converted[value] = to_rdflib(value)
        return found

    if isinstance(result, ox.QueryTriples):
        return Answer("graph", triples=tuple((term(t.subject), term(t.predicate), term(t.object)) for t in result))
    variables = tuple(v.value for v in result.variables)
    rows = tuple(tuple(None if value is None else term(value) for value in solution) for solution in result)
    return Answer("rows", variables, rows)


# ---- the store ------------------------------------------------------------------------------------------

class Store:
    """kgtool's embedded store: an Oxigraph store in memory, or on disk for later commands to reuse.

    The data is the store's default graph (quads files are merged into it); for a store on disk,
    `fingerprint` records what it was built from, so a command can tell whether it is still current."""

    def __init__(self, inner: Any, path: Path | None = None, *, writable: bool = True) -> None:
        self.oxigraph = inner
        self.path = path
        self.writable = writable

    @classmethod
    def in_memory(cls) -> Store:
        return cls(ox.Store())

    @classmethod
    def on_disk(cls, path: Path) -> Store:
        """The store in folder `path`, created when missing. One process may hold it open for writing."""
        if path.exists() and not path.is_dir():
            raise BadInputError("--store must be a folder (an Oxigraph store), not a file", path=path)
        try:
            return cls(ox.Store(str(path)), path)
        except OSError as error:
            raise BadInputError(f"cannot open the store: {error}", path=path,
                                hint="is another kgtool process using it?") from None

    @classmethod
    def read_only(cls, path: Path) -> Store:
        """An existing store on disk, opened for reading only (several processes may read at once)."""
        if not (path / "CURRENT").is_file():
            raise BadInputError("no kgtool store here", path=path,
                                hint="create one with `kgtool build --store PATH` or `kgtool load --store PATH FILE`")
        try:
            return cls(ox.Store.read_only(str(path)), path, writable=False)
        except OSError as error:
            raise BadInputError(f"cannot open the store: {error}", path=path) from None

    @classmethod
    def from_graph(cls, graph: Graph) -> Store:
        store = cls.in_memory()
        store.add_graph(graph)
        return store

    def __len__(self) -> int:
        return default_graph_size(self.oxigraph)

    def add_graph(self, graph: Graph) -> None:
        """Add an rdflib graph's triples to the default graph (through N-Triples, Oxigraph's bulk loader)."""
        data = graph.serialize(format="nt", encoding="utf-8")
        self.oxigraph.bulk_load(data, format=ox.RdfFormat.N_TRIPLES)

    def add_triples(self, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        default = ox.DefaultGraph()
        self.oxigraph.extend(ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o), default) for s, p, o in triples)

    def load(self, path: Path, *, rdf_format: Any = None, label_prefix: str = "") -> None:
        """Load an RDF file into the default graph (named graphs merged into it), its format by extension
        unless given. Blank nodes keep the file's labels (after `label_prefix`), so that the same file gives
        the same store and the same exports every time: other formats are turned into N-Triples first, and
        the lines without a blank node take Oxigraph's bulk loader."""
        fmt = rdf_format or OX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise BadInputError(f"cannot tell the RDF format of {path.name} by its extension", path=path,
                                hint=f"use one of {', '.join(sorted(OX_FORMATS))}")
        default = ox.DefaultGraph()

        def keep(term: Any) -> Any:
            return ox.BlankNode(label_prefix + term.value) if isinstance(term, ox.BlankNode) else term

        try:
            _refuse_hostile(path, fmt)
            if fmt is ox.RdfFormat.N_TRIPLES:
                data = path.read_bytes()
            elif fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):  # every graph's triples, into the default graph
                data = _ntriples(q.triple for q in ox.parse(path=str(path), format=fmt))
            else:  # as N-Triples first (parsed in Rust, blank-node labels kept), then the same path
                data = _ntriples(ox.parse(path=str(path), format=fmt))
            plain, labelled = _split_blank_node_lines(data)
            self.oxigraph.bulk_load(plain, format=ox.RdfFormat.N_TRIPLES, to_graph=default)
            if labelled:  # the few lines with blank nodes keep their labels, so exports are byte-stable
                self.oxigraph.bulk_extend(ox.Quad(keep(t.subject), t.predicate, keep(t.object), default)
                                          for t in ox.parse(labelled, format=ox.RdfFormat.N_TRIPLES))
        except SyntaxError as error:
            raise BadInputError(f"malformed RDF: {error}", path=path) from None
        except (OSError, UnicodeDecodeError) as error:
            raise BadInputError(f"cannot read the file: {error}", path=path) from None
        except (MemoryError, ValueError) as error:  # a token beyond the parser's buffer, a bad base IRI
            raise BadInputError(f"cannot parse the file: {' '.join(str(error).split())[:200] or 'out of memory'}",
                                path=path, hint="split the file, or shorten its longest literal") from None

    def clear(self) -> None:
        self.oxigraph.clear()

    def triples(self) -> Iterator[tuple[Node, Node, Node]]:
        for quad in self.oxigraph.quads_for_pattern(None, None, None, ox.DefaultGraph()):
            yield to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)

    def serialise(self, rdf_format: str) -> bytes:
        """The default graph as "ntriples", "turtle", "jsonld" or "rdfxml", written by Oxigraph from the
        triples in sorted N-Triples order: the same triples and blank-node labels give the same bytes,
        whatever kind of store holds them."""
        lines = self.oxigraph.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()).splitlines(True)
        ordered = b"".join(sorted(lines))
        if rdf_format == "ntriples":
            return ordered
        fmt = {"turtle": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD, "rdfxml": ox.RdfFormat.RDF_XML}.get(rdf_format)
        if fmt is None:
            raise BadInputError(f"a store can be written as ntriples, turtle, jsonld or rdfxml, not {rdf_format}")
        data = ox.serialize(ox.parse(ordered, format=ox.RdfFormat.N_TRIPLES), format=fmt,
                            prefixes=PREFIXES if fmt is not ox.RdfFormat.JSON_LD else None)
        assert data is not None  # serialize returns the bytes when given no output
        return data

    def to_graph(self) -> Graph:
        """The default graph as an rdflib graph, for code that needs rdflib's API."""
        graph = new_graph()
        for triple in self.triples():
            graph.add(triple)
        return graph

    def objects(self, subject: Node, predicate: Node) -> list[Node]:
        return [to_rdflib(q.object) for q in self.oxigraph.quads_for_pattern(
            to_oxigraph(subject), to_oxigraph(predicate), None, ox.DefaultGraph())]

    def subject_objects(self, predicate: Node) -> Iterable[tuple[Node, Node]]:
        for quad in self.oxigraph.quads_for_pattern(None, to_oxigraph(predicate), None, ox.DefaultGraph()):
            yield to_rdflib(quad.subject), to_rdflib(quad.object)

    @property
    def fingerprint(self) -> dict[str, Any] | None:
        """What a store on disk was built from (as recorded by `set_fingerprint`), or None."""
        if self.path is None or not (self.path / FINGERPRINT_FILE).is_file():
            return None
        value: dict[str, Any] = json.loads((self.path / FINGERPRINT_FILE).read_text(encoding="utf-8"))
        return value

    def set_fingerprint(self, about: Mapping[str, Any]) -> None:
        """Record what a store on disk holds (written last, after the data is flushed)."""
        if self.path is None:
            return
        self.flush()
        target = self.path / FINGERPRINT_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(dict(about), sort_keys=True, indent=1), encoding="utf-8")
        temporary.replace(target)

    def flush(self) -> None:
        """Make what was written durable (a store on disk opened for writing; nothing to do otherwise)."""
        if self.path is not None and self.writable:
            self.oxigraph.flush()

    def query(self, sparql: str, bindings: Mapping[str, Identifier] | None = None) -> Answer:
        """Run SPARQL on the default graph; `bindings` are substituted as RDF terms (SEP-0007).

        Raises UnprojectedBindingError when a bound variable is not projected (Oxigraph's rule)."""
        substitutions = {ox.Variable(name): to_oxigraph(term) for name, term in (bindings or {}).items()}
        try:
            result = self.oxigraph.query(sparql, prefixes=PREFIXES, substitutions=substitutions or None)
            return _answer_from_oxigraph(result)
        except RuntimeError as error:
            if "does not contains variable" in str(error) or "does not contain variable" in str(error):
                raise UnprojectedBindingError(str(error)) from None
            raise


Target = Graph | Store


def query_graph(target: Target, sparql: str, bindings: Mapping[str, Identifier] | None = None, *,
                engine: Engine = DEFAULT_ENGINE) -> Answer:
    """Run SPARQL on an rdflib graph or a Store with the project's prefixes predeclared and values bound,
    never spliced. An rdflib graph is queried by Oxigraph (copied into a Store) unless `engine` is RDFLIB."""
    if isinstance(target, Store):
        if engine is Engine.RDFLIB:
            return query_graph(target.to_graph(), sparql, bindings, engine=engine)
        return target.query(sparql, bindings)
    if engine is Engine.OXIGRAPH:
        return Store.from_graph(target).query(sparql, bindings)
    return _answer_from_rdflib(target.query(sparql, initNs=PREFIXES, initBindings=dict(bindings or {})))
