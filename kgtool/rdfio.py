"""Parse RDF with clear errors, serialise canonically, and write files atomically."""
from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import IO
from xml.sax import SAXParseException

import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.term import Node

from .errors import BadInputError
from .namespaces import PREFIXES
from .store import new_graph
from .untrusted import check_rdf


class RdfFormat(str, Enum):
    """Serialisations kgtool writes, with rdflib's name for each."""

    TURTLE = "turtle"
    NTRIPLES = "ntriples"
    NQUADS = "nquads"
    JSONLD = "jsonld"
    RDFXML = "rdfxml"

    @property
    def suffix(self) -> str:
        return {"turtle": ".ttl", "ntriples": ".nt", "nquads": ".nq", "jsonld": ".jsonld", "rdfxml": ".rdf"}[self.value]

    @property
    def media_type(self) -> str:
        """The IANA media type of the serialisation."""
        return {"turtle": "text/turtle", "ntriples": "application/n-triples", "nquads": "application/n-quads",
                "jsonld": "application/ld+json", "rdfxml": "application/rdf+xml"}[self.value]

    @property
    def label(self) -> str:
        return {"turtle": "Turtle", "ntriples": "N-Triples", "nquads": "N-Quads", "jsonld": "JSON-LD",
                "rdfxml": "RDF/XML"}[self.value]


PARSE_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".owl": "xml", ".xml": "xml",
                 ".jsonld": "json-ld", ".nq": "nquads", ".trig": "trig"}
_LINE = re.compile(r"line (\d+)", re.IGNORECASE)
_OXIGRAPH_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "nquads": ox.RdfFormat.N_QUADS,
                     "trig": ox.RdfFormat.TRIG, "xml": ox.RdfFormat.RDF_XML, "json-ld": ox.RdfFormat.JSON_LD,
                     "n3": ox.RdfFormat.N3}


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
    parse_bytes(graph, data, fmt, path=path, base=path.resolve().as_uri())


def parse_bytes(graph: Graph, data: bytes, rdf_format: str, *, path: Path | None = None,
                base: str | None = None) -> None:
    """Parse RDF from anywhere (a file, a server's answer) into `graph`, after `untrusted.check_rdf`:
    nothing is fetched, no entity expands, nesting and blank nodes are bounded. Any failure is a
    BadInputError naming `path` and the line when known."""
    check_rdf(data, rdf_format, path=path)
    try:
        graph.parse(data=data, format=rdf_format, publicID=base)
    except RecursionError:
        raise BadInputError(f"nested too deeply for the {rdf_format} parser", path=path,
                            hint="write deep structures with labelled blank nodes or IRIs") from None
    except MemoryError:
        raise BadInputError(f"too large to parse in memory ({len(data)} bytes)", path=path,
                            hint="split the file") from None
    except Exception as error:  # rdflib raises many types for bad syntax; all mean bad input here
        message = " ".join(str(error).split()) or type(error).__name__
        line = error.getLineNumber() if isinstance(error, SAXParseException) else None
        match = _LINE.search(message)
        line = line or (int(match.group(1)) if match else None) or _first_error_line(data, rdf_format, base)
        raise BadInputError(f"malformed {rdf_format}: {message[:300]}", path=path, line=line,
                            hint="fix the syntax at that line and run again") from None


def _first_error_line(data: bytes, rdf_format: str, base: str | None) -> int | None:
    """The line where Oxigraph's streaming parser first fails, for the errors rdflib reports without one."""
    fmt = _OXIGRAPH_FORMATS.get(rdf_format)
    if fmt is None:
        return None
    try:
        for _ in ox.parse(data, format=fmt, base_iri=base):
            pass
    except SyntaxError as error:
        return error.lineno
    except (ValueError, MemoryError):  # a token beyond Oxigraph's buffer, an unusable base IRI
        return None
    return None


def load_graph(*paths: Path) -> Graph:
    """A new graph holding the triples of all the files."""
    graph = new_graph()
    for path in paths:
        parse_into(graph, path)
    return graph


def canonical_copy(graph: Graph, prefixes: Mapping[str, str] | None = None) -> Graph:
    """The same graph with blank nodes labelled by content and triples inserted in sorted order,
    so that serialisers which follow insertion order give the same bytes every time.

    The copy has exactly the project's prefixes bound (plus `prefixes`), whatever the original had,
    so the bytes written depend on the triples alone."""
    copy = new_graph()
    for prefix, iri in sorted((prefixes or {}).items()):
        copy.bind(prefix, iri, override=True, replace=True)
    for triple in sorted(to_canonical_graph(graph), key=lambda t: tuple(term.n3() for term in t)):
        copy.add(triple)
    return copy


def jsonld_context() -> dict[str, str]:
    """The JSON-LD context of kgtool: one term per prefix of `namespaces.PREFIXES`, sorted.

    Shipped as `context/kgtool.context.jsonld` and embedded in every JSON-LD file kgtool writes, so
    that a JSON-LD processor expands it offline: nothing refers to a context by URL."""
    return dict(sorted(PREFIXES.items()))


def context_document() -> bytes:
    """The bytes of the shipped context file `context/kgtool.context.jsonld`."""
    return _json_bytes({"@context": jsonld_context()})


def _json_bytes(document: object) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def serialise(graph: Graph, rdf_format: RdfFormat, *, prefixes: Mapping[str, str] | None = None,
              relative_to: str | None = None, already_canonical: bool = False) -> bytes:
    """Bytes that depend only on the graph's triples (sorted, stable prefixes, no random labels).

    `prefixes` adds prefixes to the project's own (Turtle and RDF/XML; JSON-LD always uses the shipped
    context). With `relative_to`, Turtle writes the IRIs that start with it as relative IRIs and no
    BASE, so that they resolve against wherever the file is read from. N-Quads of a plain graph puts
    every triple in the default graph; see `serialise_nquads` for named graphs. `already_canonical`
    says `graph` is the result of `canonical_copy` (with these prefixes), to save canonicalising it
    again when one graph is written in several formats."""
    if rdf_format is RdfFormat.NQUADS:
        return serialise_nquads({None: graph})
    copy = graph if already_canonical else canonical_copy(graph, prefixes)
    if rdf_format is RdfFormat.TURTLE:
        if relative_to is None:
            return copy.serialize(format="longturtle", encoding="utf-8")
        text = copy.serialize(format="longturtle", base=relative_to, encoding="utf-8").decode("utf-8")
        base_line = f"BASE <{relative_to}>\n"
        if not text.startswith(base_line):  # pragma: no cover - rdflib changed how it writes BASE
            raise RuntimeError("rdflib's longturtle no longer starts with the BASE line")
        return text[len(base_line):].encode("utf-8")
    if rdf_format is RdfFormat.NTRIPLES:
        return _sorted_lines(copy.serialize(format="nt", encoding="utf-8").decode("utf-8"))
    if rdf_format is RdfFormat.JSONLD:
        document = json.loads(copy.serialize(format="json-ld", context=jsonld_context(), auto_compact=True))
        if isinstance(document.get("@graph"), list):
            document["@graph"].sort(key=lambda node: str(node.get("@id", "")))
        return _json_bytes(document)
    return _sorted_rdfxml(copy.serialize(format="xml", encoding="utf-8").decode("utf-8")).encode("utf-8")


def serialise_nquads(graphs: Mapping[URIRef | None, Graph]) -> bytes:
    """Sorted N-Quads: the triples of each graph in the named graph of its key (None: the default graph).

    Blank nodes are labelled by content within each graph and prefixed by a hash of the graph's name,
    so a blank node never silently joins two graphs."""
    lines: set[str] = set()
    for name, graph in graphs.items():
        tag = "" if name is None else hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:8]
        suffix = " ." if name is None else f" {name.n3()} ."
        copy = canonical_copy(graph)
        if tag:
            relabelled = new_graph()

            def label(term: Node) -> Node:
                return BNode(f"g{tag}{term}") if isinstance(term, BNode) else term

            for s, p, o in copy:
                relabelled.add((label(s), label(p), label(o)))
            copy = relabelled
        # split on "\n" only: N-Triples literals may hold U+2028, U+0085 or a form feed, which splitlines() breaks at
        for line in copy.serialize(format="nt", encoding="utf-8").decode("utf-8").split("\n"):
            if not line.strip():
                continue
            if not line.endswith(" ."):  # pragma: no cover - rdflib changed its N-Triples layout
                raise RuntimeError(f"unexpected N-Triples line from rdflib: {line[:80]}")
            lines.add(line[:-2] + suffix)
    return _sorted_lines("\n".join(lines))


def _sorted_lines(text: str) -> bytes:
    lines = sorted(set(line for line in text.split("\n") if line))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _sorted_rdfxml(text: str) -> str:
    """rdflib's flat RDF/XML with its rdf:Description blocks in sorted order (its own order varies)."""
    if "  <rdf:Description" not in text:  # an empty graph: nothing to sort
        return text
    head, _, rest = text.partition("  <rdf:Description")
    body, _, tail = rest.rpartition("  </rdf:Description>")
    blocks = ("  <rdf:Description" + body + "  </rdf:Description>").split("  </rdf:Description>\n")
    blocks = [b if b.endswith("  </rdf:Description>") else b + "  </rdf:Description>" for b in blocks if b.strip()]
    return head + "\n".join(sorted(blocks)) + tail


def write_atomic(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` through `atomic_output`: readers, and a process killed at any moment, see the
    old file or the new one, never a torn one.

    The file gets the permissions the user's umask gives (or keeps those of the file it replaces).
    With `replace=False` an existing file is never replaced, not even one another process creates
    meanwhile: BadInputError."""
    with atomic_output(path, replace=replace) as stream:
        stream.write(data)


@contextmanager
def atomic_output(path: Path, *, replace: bool = True) -> Iterator[IO[bytes]]:
    """A binary file to stream into: a temporary file beside `path` (mkstemp), flushed to disk and renamed
    into place when the block ends without an error, removed when it raises. The one way kgtool writes
    a file (`write_atomic` is this with one write); `replace` and permissions as there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fchmod(stream.fileno(), path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
            os.fsync(stream.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # unlike rename, link never replaces an existing file
            except FileExistsError:
                raise BadInputError("exists already and was not replaced", path=path,
                                    hint="remove it, or ask for it to be replaced") from None
            os.unlink(temporary)
        sync_folder(path.parent)  # the rename itself survives a crash
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where the file system cannot."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems cannot sync a folder; the rename is done all the same
        pass
    finally:
        os.close(handle)


def _renameat2() -> Callable[..., int] | None:
    """libc's renameat2 (Linux, glibc 2.28 and later), or None where there is none."""
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return None
    return function


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two existing paths (typically a new folder and the one it replaces) in one step, with Linux
    renameat2(RENAME_EXCHANGE): a process killed at any moment leaves each name holding the old thing
    or the new one. True when that was done.

    Where the system cannot (not Linux, an old kernel or C library, a file system without
    RENAME_EXCHANGE), it falls back to three renames and returns False: `second` moved aside to
    `first` + ".old", `first` renamed to `second`, the aside one to `first`. A crash between the first
    two renames leaves nothing at `second`: its old content is then at `first` + ".old", the new at
    `first`."""
    renameat2 = _renameat2()
    if renameat2 is not None:
        at_cwd, rename_exchange = -100, 2
        if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange) == 0:
            sync_folder(second.parent)
            return True
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), str(second))
    aside = first.with_name(first.name + ".old")
    os.rename(second, aside)
    try:
        os.rename(first, second)
    except BaseException:
        os.rename(aside, second)
        raise
    os.rename(aside, first)
    sync_folder(second.parent)
    return False


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
