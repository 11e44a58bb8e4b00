"""Saved and ad-hoc SPARQL queries: read their headers, bind their parameters, run them on a graph.

A query's answer is a `QueryResult` whose form follows the query's: rows for SELECT, a boolean for
ASK, a graph for CONSTRUCT and DESCRIBE. Queries run on the embedded store (Oxigraph by default,
`kgtool.store`) over an rdflib graph or a `Store`. Parameters are always bound as RDF terms: substituted
by the engine (Oxigraph's SEP-0007 substitutions, rdflib's `initBindings`), or, where Oxigraph cannot
substitute a variable the query does not project and for a remote server, as a `VALUES` block of
serialised terms (`values_block`, `bind_values`), never by formatting user text into the query.
"""
from __future__ import annotations

import datetime
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.term import Identifier, Node

from .errors import BadInputError, ExternalComponentError
from .namespaces import PREFIXES, RDFS, SKOS, XSD
from .store import DEFAULT_ENGINE, Answer, Engine, Store, Target, UnprojectedBindingError, new_graph, query_graph
from .untrusted import first_keyword, keyword_lines

HEADER = re.compile(r"^#\s*(title|description|param|example):\s?(.*)$")
CONTINUATION = re.compile(r"^#\s{2,}(.*)$")
PARAM_TYPES = ("iri", "string", "integer", "date")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# SPARQL's IRIREF excludes these characters; an IRI holding one could end the IRI early in query text.
IRI_FORBIDDEN = re.compile(r'[<>"{}|^`\\\x00-\x20\x7f]')
IRI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CODEPOINT_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")


class QueryForm(str, Enum):
    """The four SPARQL query forms; each has its own kind of answer."""

    SELECT = "SELECT"
    ASK = "ASK"
    CONSTRUCT = "CONSTRUCT"
    DESCRIBE = "DESCRIBE"

    @property
    def gives_graph(self) -> bool:
        return self in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True)
class SavedQuery:
    """A `queries/<name>.rq` file (or an ad-hoc query) and what its header says."""

    name: str
    path: Path | None
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    examples: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query, by its form: `rows` (SELECT, with `variables` in order), `boolean` (ASK)
    or `graph` (CONSTRUCT, DESCRIBE). `labels` gives an rdfs:label for IRIs in the rows where known;
    `warnings` say what a person should know about the answer (a remote server's row cap)."""

    variables: tuple[str, ...] = ()
    rows: tuple[tuple[Node | None, ...], ...] = ()
    boolean: bool | None = None
    labels: dict[Node, str] = field(default_factory=dict, compare=False)
    graph: Graph | None = field(default=None, compare=False)
    form: QueryForm = QueryForm.SELECT
    warnings: tuple[str, ...] = ()


class QueryTimeoutError(ExternalComponentError):
    """The query engine gave no answer within the time limit (exit 4)."""


# ---- reading queries ------------------------------------------------------------------------------

def _parse_header(text: str, path: Path | None) -> tuple[dict[str, list[str]], tuple[Parameter, ...]]:
    fields: dict[str, list[str]] = {"title": [], "description": [], "param": [], "example": []}
    last = None
    for line in text.splitlines():
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
        if len(parts) < 3 or parts[1] not in PARAM_TYPES or not VARIABLE_NAME.match(parts[0]):
            raise BadInputError(f"bad '# param:' line {raw!r}", path=path,
                                hint="write '# param: NAME TYPE DEFAULT DESCRIPTION' with TYPE one of "
                                     + ", ".join(PARAM_TYPES) + " and DEFAULT '-' for none")
        parameters.append(Parameter(parts[0], parts[1], None if parts[2] == "-" else parts[2],
                                    parts[3] if len(parts) > 3 else ""))
    return fields, tuple(parameters)


def parse_saved_query(path: Path) -> SavedQuery:
    """Read one saved query file and its header."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"cannot read query: {error}", path=path) from None
    fields, parameters = _parse_header(text, path)
    if not fields["title"]:
        raise BadInputError("saved query has no '# title:' header", path=path, line=1)
    return SavedQuery(path.stem, path, fields["title"][0], " ".join(fields["description"]),
                      parameters, tuple(fields["example"]), text)


def adhoc_query(text: str, *, path: Path | None = None) -> SavedQuery:
    """A query given on the command line or in a file; a header, if it has one, declares parameters."""
    fields, parameters = _parse_header(text, path)
    name = path.stem if path is not None else "ad-hoc"
    title = fields["title"][0] if fields["title"] else "ad-hoc query"
    return SavedQuery(name, path, title, " ".join(fields["description"]), parameters,
                      tuple(fields["example"]), text)


def read_query_file(path: Path) -> SavedQuery:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"cannot read query: {error}", path=path) from None
    return adhoc_query(text, path=path)


def list_saved_queries(folder: Path) -> list[SavedQuery]:
    return [parse_saved_query(path) for path in sorted(folder.glob("*.rq"))]


def find_saved_query(folder: Path, name: str) -> SavedQuery:
    path = folder / f"{name}.rq"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not path.is_file():
        known = ", ".join(q.stem for q in sorted(folder.glob("*.rq"))) or "none"
        raise BadInputError(f"unknown saved query {name!r}", hint=f"known queries: {known}")
    return parse_saved_query(path)


_FORMS = {"SELECT": QueryForm.SELECT, "ASK": QueryForm.ASK, "CONSTRUCT": QueryForm.CONSTRUCT,
          "DESCRIBE": QueryForm.DESCRIBE}
_UPDATES = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


def query_form(sparql: str) -> QueryForm:
    """The form of a query, from its first keyword outside comments, strings and IRIs (a lexical scan;
    the engine that runs the query reports any syntax error). An update is refused: kgtool query reads."""
    keyword = first_keyword(sparql, [*_FORMS, *_UPDATES])
    if keyword is None:
        raise BadInputError("the query is not valid SPARQL: it has no SELECT, ASK, CONSTRUCT or DESCRIBE")
    if keyword not in _FORMS:
        raise BadInputError("this is a SPARQL Update; kgtool query only reads",
                            hint="to put a graph on a server use: kgtool load --endpoint URL --graph IRI")
    return _FORMS[keyword]


# ---- parameters -----------------------------------------------------------------------------------

LabelLookup = Callable[[str], Sequence[URIRef]]


def checked_iri(text: str, *, what: str = "IRI") -> URIRef:
    """An IRI that can be written as `<...>` in SPARQL and Turtle: absolute, no spaces, quotes or brackets."""
    if not IRI_SCHEME.match(text) or IRI_FORBIDDEN.search(text):
        raise BadInputError(f"{what}: {text!r} is not a valid absolute IRI",
                            hint="an IRI has a scheme (https:, urn:) and no spaces or any of <>\"{}|^`\\")
    return URIRef(text)


def graph_label_lookup(graph: Target) -> LabelLookup:
    """Entities whose rdfs:label, skos:prefLabel or skos:altLabel is the text, ignoring case."""
    def lookup(text: str) -> list[URIRef]:
        folded = text.casefold()
        return sorted({s for p in (RDFS.label, SKOS.prefLabel, SKOS.altLabel)
                       for s, o in graph.subject_objects(p) if isinstance(s, URIRef) and str(o).casefold() == folded})

    return lookup


def _short(iri: URIRef) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", iri[len(namespace):]):
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def resolve_term(parameter: Parameter, raw: str, lookup: LabelLookup) -> Identifier:
    """A parameter's text as an RDF term: IRIs by prefixed name, full IRI or exact label (via `lookup`)."""
    what = f"parameter {parameter.name}"
    if parameter.type == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise BadInputError(f"{what} must be a whole number, got {raw!r}")
        return Literal(int(raw))
    if parameter.type == "date":
        try:
            datetime.date.fromisoformat(raw)
        except ValueError:
            raise BadInputError(f"{what} must be a date YYYY-MM-DD, got {raw!r}") from None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise BadInputError(f"{what} must be a date YYYY-MM-DD, got {raw!r}")
        return Literal(raw, datatype=XSD.date)
    if parameter.type == "string":
        return Literal(raw)
    if raw.startswith("<") and raw.endswith(">"):
        return checked_iri(raw[1:-1], what=what)
    prefix, _, local = raw.partition(":")
    if local and prefix in PREFIXES and not local.startswith("//"):
        return checked_iri(PREFIXES[prefix] + local, what=what)
    if re.match(r"^[a-z][a-z0-9+.-]*://", raw):
        return checked_iri(raw, what=what)
    matches = list(lookup(raw))
    if not matches:
        raise BadInputError(f"{what}: no entity is labelled {raw!r}",
                            hint="give a label from the graph, a prefixed name such as kgr:russia, or a full IRI")
    if len(matches) > 1:
        raise BadInputError(f"{what}: {raw!r} names {len(matches)} entities: "
                            + ", ".join(_short(m) for m in matches),
                            hint="give the prefixed name of the one you mean")
    return checked_iri(str(matches[0]), what=what)


def resolve_value(graph: Target, parameter: Parameter, raw: str) -> Identifier:
    """A parameter's text as an RDF term, labels looked up in `graph`."""
    return resolve_term(parameter, raw, graph_label_lookup(graph))


def bind_parameters(graph: Target | None, query: SavedQuery, given: Mapping[str, str], *,
                    lookup: LabelLookup | None = None) -> dict[str, Identifier]:
    """Bindings for the query: given values, else defaults. Unknown names are an error.

    Labels are looked up with `lookup` when given (a remote server), else in `graph`."""
    known = {p.name: p for p in query.parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadInputError(f"query {query.name} has no parameter {', '.join(unknown)}",
                            hint=f"its parameters: {', '.join(known) or 'none'}")
    if lookup is None:
        lookup = graph_label_lookup(graph if graph is not None else new_graph())
    bindings = {}
    for name, parameter in known.items():
        raw = given.get(name, parameter.default)
        if raw is not None:
            bindings[name] = resolve_term(parameter, raw, lookup)
    return bindings


# ---- binding by VALUES (for servers: SPARQL 1.1 has no initBindings over the protocol) ---------------

def term_sparql(term: Identifier) -> str:
    """A term as SPARQL text, by rdflib's serialisation of the term (`.n3()`), after checking that it
    cannot end early: IRIs hold no character SPARQL forbids in `<...>`; literals are escaped by n3()."""
    if isinstance(term, URIRef):
        return checked_iri(str(term)).n3()
    if isinstance(term, Literal):
        if _CODEPOINT_ESCAPE.search(str(term)):
            raise BadInputError(f"cannot send {str(term)[:60]!r} to a SPARQL server unchanged: SPARQL turns the "
                                "text \\u followed by four hex digits into the character it names before parsing")
        if term.datatype is not None:
            checked_iri(str(term.datatype), what="datatype")
        if term.language is not None and not re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", term.language):
            raise BadInputError(f"bad language tag {term.language!r}")
        return term.n3()
    raise BadInputError(f"cannot bind {term!r}: only IRIs and literals can be bound")


_PREFIX_DECLARATION = re.compile(r"\bPREFIX\s+([A-Za-z][\w.-]*)?:", re.IGNORECASE)


def declare_prefixes(sparql: str) -> str:
    """The query with a PREFIX line for each project prefix it does not declare itself (for servers,
    which do not know kgtool's prefixes; locally rdflib gets them as initNs)."""
    declared = {match.group(1) or "" for match in _PREFIX_DECLARATION.finditer(sparql)}
    lines = [f"PREFIX {prefix}: <{iri}>" for prefix, iri in PREFIXES.items() if prefix not in declared]
    return "\n".join(lines + [sparql]) if lines else sparql


def values_block(bindings: Mapping[str, Identifier]) -> str:
    """`VALUES (?a ?b) { (<iri> "literal") }` for the bindings, or '' when there are none."""
    if not bindings:
        return ""
    for name in bindings:
        if not VARIABLE_NAME.match(name):
            raise BadInputError(f"bad parameter name {name!r}")
    names = " ".join(f"?{name}" for name in bindings)
    terms = " ".join(term_sparql(term) for term in bindings.values())
    return f"VALUES ({names}) {{ ({terms}) }}"


_IRIREF = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')


def _where_brace(sparql: str, form: QueryForm) -> int | None:
    """The offset of the `{` that opens the query's WHERE pattern, found by a small lexer that skips
    comments, strings and IRIs, or None when the query has no WHERE pattern (DESCRIBE <iri>)."""
    i, n = 0, len(sparql)
    parens = braces = 0
    groups: list[int] = []
    after_where: int | None = None
    while i < n:
        c = sparql[i]
        if c == "#":
            end = sparql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c in "\"'":
            quote = c * 3 if sparql.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not sparql.startswith(quote, j):
                j += 2 if sparql[j] == "\\" else 1
            i = j + len(quote)
            continue
        if c == "<":
            match = _IRIREF.match(sparql, i)
            if match:
                i = match.end()
                continue
        if c in "?$":
            match = re.compile(r"[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]*").match(sparql, i)
            i = match.end() if match else i + 1
            continue
        if c == "(":
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == "{":
            if parens == 0 and braces == 0:
                if after_where is not None:
                    return i
                groups.append(i)
            braces += 1
        elif c == "}":
            braces -= 1
        elif (c in "wW" and parens == 0 and braces == 0 and sparql[i:i + 5].upper() == "WHERE"
              and (i == 0 or not re.match(r"[\w:.\-]", sparql[i - 1]))
              and (i + 5 == n or not re.match(r"[\w:]", sparql[i + 5]))):
            after_where = i
            i += 5
            continue
        i += 1
    if form is QueryForm.CONSTRUCT:
        return groups[1] if len(groups) > 1 else None
    return groups[0] if groups else None


def _is_short_construct(sparql: str) -> bool:
    """CONSTRUCT WHERE { ... }: the pattern is also the template, so it cannot hold VALUES."""
    where = _where_brace(sparql, QueryForm.SELECT)
    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0))

    first = re.sub(r"#[^\n]*", blank, _IRIREF.sub(blank, sparql))  # offsets kept
    return where is not None and re.search(r"\bCONSTRUCT\s+WHERE\s*\{", first[:where + 1], re.IGNORECASE) is not None


def bind_values(sparql: str, bindings: Mapping[str, Identifier], form: QueryForm | None = None) -> str:
    """The query with the bindings as a `VALUES` block at the start of its WHERE pattern.

    SPARQL 1.1 also allows `VALUES` after the whole query, but Virtuoso 7.2 applies a trailing block
    after projecting (an unprojected variable is "No column") and ignores it inside UNION branches
    (wrong rows); at the start of the WHERE pattern it is joined first, as the standard says, on
    every engine tested (rdflib, Oxigraph, Virtuoso)."""
    block = values_block(bindings)
    if not block:
        return sparql
    form = form or query_form(sparql)
    position = _where_brace(sparql, form)
    if position is None:
        raise BadInputError("cannot bind parameters: the query has no WHERE pattern")
    if form is QueryForm.CONSTRUCT and _is_short_construct(sparql):
        raise BadInputError("cannot bind parameters into the short form CONSTRUCT WHERE { ... }",
                            hint="write CONSTRUCT { template } WHERE { pattern }")
    return f"{sparql[:position + 1]}\n  {block}\n{sparql[position + 1:]}"


# ---- running on a local graph ---------------------------------------------------------------------

_SELECT = re.compile(r"\bSELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?(\S)", re.IGNORECASE)


def _in_text_order(answer: Answer, sparql: str) -> Answer:
    """SELECT *: the variables in the order they first appear in the text (engines differ otherwise)."""
    first_select = _SELECT.search(re.sub(r"#[^\n]*", "", sparql))
    if answer.kind != "rows" or first_select is None or first_select.group(1) != "*":
        return answer

    def first_use(name: str) -> int:
        match = re.search(rf"[?$]{re.escape(name)}(?![A-Za-z0-9_])", sparql)
        return match.start() if match else len(sparql)

    variables = answer.variables
    order = sorted(range(len(variables)), key=lambda i: (first_use(variables[i]), variables[i]))
    return Answer("rows", tuple(variables[i] for i in order),
                  tuple(tuple(row[i] for i in order) for row in answer.rows))


def _evaluate(target: Target, sparql: str, bindings: Mapping[str, Identifier], engine: Engine) -> Answer:
    """Run the query; the answer as picklable values (it may cross a process boundary)."""
    try:
        try:
            answer = query_graph(target, sparql, bindings, engine=engine)
        except UnprojectedBindingError:  # Oxigraph substitutes projected variables only: bind by VALUES
            try:
                bound = bind_values(sparql, bindings)
            except BadInputError:  # a value no query text can carry unchanged: rdflib's engine binds it
                answer = query_graph(target, sparql, bindings, engine=Engine.RDFLIB)
            else:
                answer = query_graph(target, bound, engine=engine)
        return _in_text_order(answer, sparql)
    except BadInputError:
        raise
    except Exception as error:  # the engines raise many types for a query they cannot evaluate
        raise BadInputError(f"the query is not valid SPARQL: {' '.join(str(error).split())[:300]}") from None


DEFAULT_LOCAL_TIMEOUT = 300.0  # seconds: `kgtool query` stops a local query after this unless --timeout says
QUERY_MEMORY = 4 << 30  # bytes a query's child process may add to what it shares with its parent (default)
QUERY_MEMORY_VARIABLE = "KGTOOL_QUERY_MEMORY"  # another limit: bytes, or a number with K, M, G or T (binary)
_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def query_memory() -> int:
    """The bytes a local query may add to its process: $KGTOOL_QUERY_MEMORY (e.g. 300M, 2G, 500000000;
    K, M, G and T are binary multiples), else QUERY_MEMORY (4 GiB). BadInputError for a value that is
    not a size."""
    text = os.environ.get(QUERY_MEMORY_VARIABLE, "").strip()
    if not text:
        return QUERY_MEMORY
    match = _SIZE.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise BadInputError(f"{QUERY_MEMORY_VARIABLE}={text!r} is not a memory size: give bytes, or a number "
                            "with K, M, G or T (binary multiples), e.g. 300M")
    return int(match.group(1)) << (10 * " KMGT".index(match.group(2).upper() or " "))


def _size(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):.3g} {unit}"
    return f"{size} bytes"


def _bound_memory(extra: int) -> int:
    """Limit this process's address space (RLIMIT_AS) to its present size plus `extra` bytes, never above a
    limit already in force (ulimit -v, a container's): the bytes it may still add. Linux; elsewhere a
    no-op that returns `extra`."""
    try:
        import resource

        present = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = min([present + extra] + [cap for cap in (soft, hard) if cap != resource.RLIM_INFINITY])
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        return max(limit - present, 0)
    except (ImportError, OSError):  # pragma: no cover - not Linux
        return extra


def _resident(pid: int | str) -> int | None:
    """Bytes of anonymous memory (resident, not file-backed) of a process, from /proc; None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()
        return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _memory_message(budget: int) -> str:
    return (f"the query needed more than the {_size(budget)} of memory it may use and was stopped "
            f"({QUERY_MEMORY_VARIABLE} sets that limit)")


def _child(conn: Connection, target: Target | bytes | Path, sparql: str, bindings: dict[str, Identifier],
           engine: Engine, budget: int = QUERY_MEMORY) -> None:
    """Entry point of the child process that runs one query, so that a time limit can stop it. The parent
    stops it when its memory grows by more than `budget`; its address space is bounded as well, with room
    to spare (a backstop for an allocation too sudden for the parent to see: MemoryError, else the
    engine fails)."""
    try:
        _bound_memory(budget + max(budget, 1 << 30))
        if isinstance(target, bytes):
            data, target = target, new_graph()
            target.parse(data=data, format="nt")
        elif isinstance(target, Path):
            target = Store.read_only(target)
        conn.send(("ok", _evaluate(target, sparql, bindings, engine)))
    except BadInputError as error:
        conn.send(("bad", error.message))
    except MemoryError:
        conn.send(("bad", _memory_message(budget)))
    except BaseException as error:  # anything else: report it to the parent, which shows it
        conn.send(("bug", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


def _await_answer(receiver: Connection, process: Any, timeout: float, budget: int, shared: int | None) -> bool:
    """Wait up to `timeout` seconds for the child's answer (or its end): False when neither came. Meanwhile
    stop the child, and raise BadInputError, as soon as its memory exceeds `shared` (what it had when it
    was forked from this process) by more than `budget`. The engines cannot be trusted to fail cleanly
    when an allocation fails (Oxigraph's bindings may crash or hang), so the limit is watched from here."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if receiver.poll(min(left, 0.05)):
            return True
        used = _resident(process.pid) if shared is not None else None
        if used is not None and shared is not None and used - shared > budget:
            process.kill()
            raise BadInputError(_memory_message(budget),
                                hint="make the query more selective, or raise the limit with "
                                     f"{QUERY_MEMORY_VARIABLE} (e.g. 8G)")


def _evaluate_with_timeout(target: Target, sparql: str, bindings: Mapping[str, Identifier], timeout: float,
                           engine: Engine) -> Answer:
    """Run the query in a child process and stop it when it has not answered within `timeout` seconds.

    Neither engine can be interrupted inside a thread, so the limit needs a process: 'fork' where the
    platform has it (the child shares the data as it is; a store on disk is reopened read-only), else
    'spawn' with the data as N-Triples."""
    fork = "fork" in multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if fork else "spawn")  # typeshed: BaseContext lacks Process
    receiver, sender = context.Pipe(duplex=False)
    payload: Target | bytes | Path
    if isinstance(target, Store) and target.path is not None:
        target.flush()
        payload = target.path
    elif fork:
        payload = target
    else:
        graph = target.to_graph() if isinstance(target, Store) else target
        payload = graph.serialize(format="nt", encoding="utf-8")
    budget = query_memory()
    shared = _resident("self") if fork else None  # a forked child starts with this much of ours
    process = context.Process(target=_child, args=(sender, payload, sparql, dict(bindings), engine, budget),
                              daemon=True, name="kgtool-query")
    process.start()
    sender.close()
    try:
        if not _await_answer(receiver, process, timeout, budget, shared):
            raise QueryTimeoutError(
                f"the query gave no answer within {timeout:g} s (--timeout) and was stopped",
                hint="make the query more selective, raise --timeout, or run it on a SPARQL server with --endpoint")
        try:
            status, value = receiver.recv()
        except EOFError:
            raise ExternalComponentError(f"the query engine's process ended without an answer "
                                         f"(exit code {process.exitcode})") from None
    finally:
        receiver.close()
        process.join(0.5)
        if process.is_alive():
            process.terminate()
            process.join(2)
        if process.is_alive():  # pragma: no cover - SIGTERM is enough for a Python child
            process.kill()
            process.join()
    if status == "bad":
        raise BadInputError(value)
    if status == "bug":
        raise RuntimeError(f"the query engine failed: {value}")
    return value  # type: ignore[no-any-return]


def labels_for(terms: Sequence[Node | None], graph: Target) -> dict[Node, str]:
    """The rdfs:label (else skos:prefLabel) of each IRI among the terms, the smallest when there are several."""
    labels: dict[Node, str] = {}
    for term in terms:
        if isinstance(term, URIRef) and term not in labels:
            for predicate in (RDFS.label, SKOS.prefLabel):
                found = sorted(str(o) for o in graph.objects(term, predicate))
                if found:
                    labels[term] = found[0]
                    break
    return labels


def result_from(answer: Answer, form: QueryForm, graph: Target | None = None) -> QueryResult:
    if answer.kind == "boolean":
        return QueryResult(boolean=bool(answer.boolean), form=form)
    if answer.kind == "graph":
        found = new_graph()
        for triple in answer.triples:
            found.add(triple)
        return QueryResult(graph=found, form=form)
    labels = labels_for([t for row in answer.rows for t in row], graph) if graph is not None else {}
    return QueryResult(answer.variables, answer.rows, None, labels, form=form)


def refuse_service(sparql: str, *, allow: bool) -> None:
    """Refuse a SERVICE clause unless `allow`: both local engines (Oxigraph, rdflib) run it by HTTP, so a
    query from a stranger could make kgtool connect anywhere. Comments, strings and IRIs are skipped."""
    lines = [] if allow else keyword_lines(sparql, "SERVICE")
    if lines:
        raise BadInputError(f"the query calls a remote SPARQL service (SERVICE, line {lines[0]}); kgtool makes "
                            "no network request unless asked",
                            hint="pass --allow-service if you trust the query and the service it names")


def run_sparql(graph: Target, sparql: str, bindings: Mapping[str, Identifier] | None = None, *,
               timeout: float | None = None, engine: Engine = DEFAULT_ENGINE,
               allow_service: bool = False) -> QueryResult:
    """Run any query form on an rdflib graph or a Store, with the project's prefixes predeclared and
    values bound. An rdflib graph is copied into Oxigraph first unless `engine` is Engine.RDFLIB: for
    several queries on one graph, make a `Store` once.

    With `timeout`, the query runs in a child process that is stopped after that many seconds
    (QueryTimeoutError, exit 4). A SERVICE clause is refused unless `allow_service`."""
    form = query_form(sparql)
    refuse_service(sparql, allow=allow_service)
    bindings = dict(bindings or {})
    if isinstance(graph, Graph) and engine is Engine.OXIGRAPH:
        graph = Store.from_graph(graph)
    if timeout is None:
        answer = _evaluate(graph, sparql, bindings, engine)
    else:
        answer = _evaluate_with_timeout(graph, sparql, bindings, timeout, engine)
    return result_from(answer, form, graph)


def run_saved_query(graph: Target, query: SavedQuery, params: Mapping[str, str] | None = None, *,
                    timeout: float | None = None, engine: Engine = DEFAULT_ENGINE,
                    allow_service: bool = False) -> QueryResult:
    """Run a saved query with its parameters (given, else their defaults) bound as RDF terms."""
    if isinstance(graph, Graph) and engine is Engine.OXIGRAPH:
        graph = Store.from_graph(graph)
    return run_sparql(graph, query.text, bind_parameters(graph, query, params or {}), timeout=timeout,
                      engine=engine, allow_service=allow_service)

