"""Saved SPARQL queries: read their headers, bind their parameters, run them on a graph."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.term import Identifier, Node

from .errors import BadInputError
from .namespaces import PREFIXES, RDFS, SKOS, XSD
from .store import run_query

HEADER = re.compile(r"^#\s*(title|description|param|example):\s?(.*)$")
CONTINUATION = re.compile(r"^#\s{2,}(.*)$")
PARAM_TYPES = ("iri", "string", "integer", "date")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True)
class SavedQuery:
    """A `queries/<name>.rq` file and what its header says."""

    name: str
    path: Path
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    examples: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class QueryResult:
    """The rows of a SELECT (or the answer of an ASK), with the variables in order."""

    variables: tuple[str, ...]
    rows: tuple[tuple[Node | None, ...], ...] = ()
    boolean: bool | None = None
    labels: dict[Node, str] = field(default_factory=dict, compare=False)


def parse_saved_query(path: Path) -> SavedQuery:
    """Read one saved query file and its header."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"cannot read query: {error}", path=path) from None
    fields: dict[str, list[str]] = {"title": [], "description": [], "param": [], "example": []}
    last = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("#"):
            break
        match = HEADER.match(line)
        if match:
            last = match.group(1)
            fields[last].append(match.group(2).strip())
        elif last == "description" and CONTINUATION.match(line):
            fields["description"][-1] += " " + line.lstrip("#").strip()
    parameters = []
    for raw in fields["param"]:
        parts = raw.split(None, 3)
        if len(parts) < 3 or parts[1] not in PARAM_TYPES:
            raise BadInputError(f"bad '# param:' line {raw!r}", path=path,
                                hint="write '# param: NAME TYPE DEFAULT DESCRIPTION' with TYPE one of "
                                     + ", ".join(PARAM_TYPES) + " and DEFAULT '-' for none")
        parameters.append(Parameter(parts[0], parts[1], None if parts[2] == "-" else parts[2],
                                    parts[3] if len(parts) > 3 else ""))
    if not fields["title"]:
        raise BadInputError("saved query has no '# title:' header", path=path, line=1)
    return SavedQuery(path.stem, path, fields["title"][0], " ".join(fields["description"]),
                      tuple(parameters), tuple(fields["example"]), text)


def list_saved_queries(folder: Path) -> list[SavedQuery]:
    return [parse_saved_query(path) for path in sorted(folder.glob("*.rq"))]


def find_saved_query(folder: Path, name: str) -> SavedQuery:
    path = folder / f"{name}.rq"
    if not path.is_file():
        known = ", ".join(q.stem for q in sorted(folder.glob("*.rq"))) or "none"
        raise BadInputError(f"unknown saved query {name!r}", hint=f"known queries: {known}")
    return parse_saved_query(path)


def resolve_value(graph: Graph, parameter: Parameter, raw: str) -> Identifier:
    """A parameter's text as an RDF term: IRIs by prefixed name, full IRI or exact label."""
    if parameter.type == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise BadInputError(f"parameter {parameter.name} must be a whole number, got {raw!r}")
        return Literal(int(raw))
    if parameter.type == "date":
        return Literal(raw, datatype=XSD.date)
    if parameter.type == "string":
        return Literal(raw)
    if raw.startswith("<") and raw.endswith(">"):
        return URIRef(raw[1:-1])
    prefix, _, local = raw.partition(":")
    if local and prefix in PREFIXES and not local.startswith("//"):
        return URIRef(PREFIXES[prefix] + local)
    if re.match(r"^[a-z][a-z0-9+.-]*://", raw):
        return URIRef(raw)
    folded = raw.casefold()
    matches = sorted({s for p in (RDFS.label, SKOS.prefLabel, SKOS.altLabel)
                      for s, o in graph.subject_objects(p) if str(o).casefold() == folded and isinstance(s, URIRef)})
    if not matches:
        raise BadInputError(f"parameter {parameter.name}: no entity is labelled {raw!r}",
                            hint="give a label from the graph, a prefixed name such as kgr:russia, or a full IRI")
    if len(matches) > 1:
        raise BadInputError(f"parameter {parameter.name}: {raw!r} names {len(matches)} entities: "
                            + ", ".join(graph.namespace_manager.normalizeUri(m) for m in matches),
                            hint="give the prefixed name of the one you mean")
    return matches[0]


def bind_parameters(graph: Graph, query: SavedQuery, given: dict[str, str]) -> dict[str, Identifier]:
    """Bindings for the query: given values, else defaults. Unknown names are an error."""
    known = {p.name: p for p in query.parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadInputError(f"query {query.name} has no parameter {', '.join(unknown)}",
                            hint=f"its parameters: {', '.join(known) or 'none'}")
    bindings = {}
    for name, parameter in known.items():
        raw = given.get(name, parameter.default)
        if raw is not None:
            bindings[name] = resolve_value(graph, parameter, raw)
    return bindings


def run_sparql(graph: Graph, sparql: str, bindings: dict[str, Identifier] | None = None) -> QueryResult:
    """Run a SELECT or ASK query and collect its rows with labels for the IRIs in them."""
    try:
        result = run_query(graph, sparql, bindings)
    except Exception as error:  # rdflib's parser raises pyparsing errors; all mean a bad query here
        raise BadInputError(f"the query is not valid SPARQL: {' '.join(str(error).split())[:300]}") from None
    if result.type == "ASK":
        return QueryResult((), (), bool(result.askAnswer))
    if result.type != "SELECT":
        raise BadInputError("only SELECT and ASK queries are supported here")
    variables = tuple(str(v) for v in result.vars or ())
    rows = tuple(tuple(row) for row in result)  # type: ignore[arg-type]
    labels: dict[Node, str] = {}
    for row in rows:
        for term in row:
            if isinstance(term, URIRef) and term not in labels:
                label = graph.value(term, RDFS.label)
                if label is not None:
                    labels[term] = str(label)
    return QueryResult(variables, rows, None, labels)


def run_saved_query(graph: Graph, query: SavedQuery, params: dict[str, str] | None = None) -> QueryResult:
    return run_sparql(graph, query.text, bind_parameters(graph, query, params or {}))
