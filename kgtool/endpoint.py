"""Remote SPARQL servers: run queries through SPARQLWrapper, put graphs into named graphs.

The only module that imports SPARQLWrapper. Every failure of a server (unreachable, an HTTP error, no
answer in time, results that do not parse, results the server marks as partial) is one
ExternalComponentError (exit 4) whose message names the endpoint URL, never the credentials.

Parameters are bound without formatting user text into the query: the terms are checked and
serialised as RDF terms (`kgtool.queries.values_block`) into a VALUES block at the start of the WHERE
pattern, since the SPARQL protocol has no way to send bindings beside a query.
"""
from __future__ import annotations

import ast
import base64
import http.client
import json
import math
import netrc
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Identifier, Node
from SPARQLWrapper import BASIC, GET, JSON, POST, TURTLE, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
    URITooLong,
)

from .errors import BadInputError, ExternalComponentError, KgtoolError
from .queries import (
    LabelLookup,
    QueryForm,
    QueryResult,
    SavedQuery,
    bind_parameters,
    bind_values,
    checked_iri,
    declare_prefixes,
    query_form,
    term_sparql,
)
from .rdfio import RdfFormat, parse_bytes, serialise
from .shacl_sparql import EVERY_PREDICATE, LEXICAL_GRAPH, PRESERVES, Solutions
from .store import new_graph

DEFAULT_TIMEOUT = 60.0
# a read that fails in a way that passes (no connection, a dropped connection, HTTP 502/503/504) is tried
# again this many times, after pauses of BACKOFF seconds, doubling; writes are never repeated
RETRIES = 2
BACKOFF = 0.5
TRANSIENT_STATUS = (502, 503, 504)
USER_VARIABLE = "KGTOOL_ENDPOINT_USER"
PASSWORD_VARIABLE = "KGTOOL_ENDPOINT_PASSWORD"
# Row caps servers commonly apply silently (Virtuoso's ResultSetMaxRows is 10000 in its shipped ini and
# on DBpedia; 1000, 50000 and 100000 are common elsewhere). A result of exactly this many rows may be cut.
COMMON_ROW_CAPS = (1000, 10000, 50000, 100000)
INSERT_CHUNK = 1000
LABEL_BATCH = 100
_WRAPPER_STATUS: dict[type[SPARQLWrapperException], int] = {
    QueryBadFormed: 400, Unauthorized: 401, EndPointNotFound: 404, URITooLong: 414, EndPointInternalError: 500}
_GRAPH_FORMATS = {"text/turtle": "turtle", "application/x-turtle": "turtle", "application/turtle": "turtle",
                  "application/n-triples": "nt", "text/plain": "nt", "text/rdf+n3": "n3", "text/n3": "n3",
                  "application/rdf+xml": "xml", "application/ld+json": "json-ld", "application/x-json+ld": "json-ld"}


class HttpMethod(str, Enum):
    """How a query travels: POST (URL-encoded form, the default: no length limit) or GET."""

    GET = "get"
    POST = "post"


class LoadMethod(str, Enum):
    """How `load` writes: the Graph Store Protocol, SPARQL Update, or the first that works."""

    AUTO = "auto"
    GRAPH_STORE = "graph-store"
    UPDATE = "update"


@dataclass(frozen=True)
class Credentials:
    """HTTP basic credentials and where they came from (the password is never shown)."""

    user: str
    password: str = field(repr=False)
    source: str = ""


@dataclass(frozen=True)
class Endpoint:
    """A SPARQL endpoint and how to talk to it. `url` never holds credentials."""

    url: str
    method: HttpMethod = HttpMethod.POST
    timeout: float = DEFAULT_TIMEOUT
    default_graphs: tuple[str, ...] = ()
    credentials: Credentials | None = field(default=None, repr=False)
    graph_store: str | None = None
    retries: int = RETRIES
    backoff: float = BACKOFF

    def redact(self, text: str) -> str:
        """The text with the password (and any user:password@ in URLs) blanked out."""
        text = re.sub(r"(?<=://)[^/@\s]+@", "", text)
        if self.credentials is not None and self.credentials.password:
            text = text.replace(self.credentials.password, "***")
        return text


@dataclass(frozen=True)
class LoadReport:
    """What `load` did: the target graph, how many triples it now holds, and how they were sent."""

    target: str
    triples: int
    previous: int
    method: str
    notes: tuple[str, ...] = ()


# ---- configuration ---------------------------------------------------------------------------------

def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """The URL without `user:password@`, and the user and password it held."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, urllib.parse.unquote(user) or None, urllib.parse.unquote(password) if password else None


def _checked_url(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(f"{what} {strip_userinfo(url)[0]!r} is not an http(s) URL",
                            hint="for example http://localhost:8890/sparql")
    return url


def find_credentials(url: str, *, environ: Mapping[str, str] | None = None,
                     netrc_file: Path | None = None) -> Credentials | None:
    """Credentials for the endpoint: from KGTOOL_ENDPOINT_USER / KGTOOL_ENDPOINT_PASSWORD, else from the
    netrc file's entry for the host (~/.netrc by default), else none."""
    env = os.environ if environ is None else environ
    user, password = env.get(USER_VARIABLE), env.get(PASSWORD_VARIABLE)
    if user or password:
        if not (user and password):
            raise BadInputError(f"set both {USER_VARIABLE} and {PASSWORD_VARIABLE}, or neither")
        return Credentials(user, password, f"{USER_VARIABLE}/{PASSWORD_VARIABLE}")
    path = netrc_file if netrc_file is not None else Path.home() / ".netrc"
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(urllib.parse.urlsplit(url).hostname or "")
    except (netrc.NetrcParseError, OSError) as error:
        line = getattr(error, "lineno", None)  # the message may quote a token: show only where it is
        raise BadInputError("cannot read the netrc file", path=path, line=line,
                            hint="fix it, or give the credentials in KGTOOL_ENDPOINT_USER and KGTOOL_ENDPOINT_PASSWORD") from None
    if entry is None or not entry[0] or not entry[2]:
        return None
    return Credentials(entry[0], entry[2], str(path))


def default_graph_store(url: str) -> str | None:
    """The Graph Store Protocol service beside a SPARQL endpoint, by Virtuoso's convention
    (`.../sparql` -> `.../sparql-graph-crud`); None when the URL does not follow it."""
    parts = urllib.parse.urlsplit(url)
    if not parts.path.rstrip("/").endswith("/sparql"):
        return None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "-graph-crud", "", ""))


def connect(url: str, *, method: HttpMethod = HttpMethod.POST, timeout: float | None = None,
            default_graph: str | None = None, graph_store: str | None = None,
            environ: Mapping[str, str] | None = None, netrc_file: Path | None = None) -> Endpoint:
    """An Endpoint for the URL: credentials from the URL itself, the environment or ~/.netrc."""
    clean, user, password = strip_userinfo(_checked_url(url, "endpoint"))
    if user and password:
        credentials: Credentials | None = Credentials(user, password, "URL")
    else:
        credentials = find_credentials(clean, environ=environ, netrc_file=netrc_file)
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise BadInputError(f"--timeout must be a positive number of seconds, got {timeout}")
    graphs = (str(checked_iri(default_graph, what="--graph")),) if default_graph else ()
    store = strip_userinfo(_checked_url(graph_store, "graph store"))[0] if graph_store else default_graph_store(clean)
    return Endpoint(clean, method, DEFAULT_TIMEOUT if timeout is None else timeout, graphs, credentials, store)


# ---- HTTP --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def _excerpt(body: bytes, limit: int = 300) -> str:
    """The first words of a server's error body: tags and the echoed query left out."""
    text = body.decode("utf-8", errors="replace")
    text = re.split(r"\n\s*SPARQL query:", text, maxsplit=1)[0]
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


class TransientEndpointError(ExternalComponentError):
    """A failure that may pass: no connection, a dropped connection, HTTP 502/503/504 (exit 4)."""


def _fail(endpoint: Endpoint, url: str, message: str, hint: str | None = None, *, transient: bool = False) -> NoReturn:
    shown = strip_userinfo(url)[0]
    kind = TransientEndpointError if transient else ExternalComponentError
    raise kind(endpoint.redact(f"SPARQL endpoint {shown}: {message}"), hint=endpoint.redact(hint) if hint else None)


def _http_failure(endpoint: Endpoint, url: str, status: int, reason: str, body: bytes) -> NoReturn:
    detail = _excerpt(body)
    message = (f"HTTP {status}{' ' + reason if reason else ''}" if status else "the request failed") \
        + (f": {detail}" if detail else "")
    if "estimated execution time" in detail.lower():
        hint = ("the server refused the query for its estimated cost (Virtuoso: MaxQueryCostEstimationTime "
                "in virtuoso.ini); raise the limit or make the query more selective")
    elif status in (401, 403):
        hint = (f"check the credentials ({USER_VARIABLE} and {PASSWORD_VARIABLE}, or ~/.netrc) "
                "and that the account may do this")
    elif status == 404:
        hint = "check the endpoint URL"
    elif status == 414:
        hint = "the query is too long for GET: use --method post"
    elif status == 400:
        hint = "the server rejected the request; its message is above"
    elif status in (502, 503, 504):
        hint = "the server or a proxy in front of it did not answer in time; try again later"
    else:
        hint = "the server failed; its message is above"
    _fail(endpoint, url, message, hint, transient=status in TRANSIENT_STATUS)


def _connection_failure(endpoint: Endpoint, url: str, error: BaseException) -> NoReturn:
    reason = getattr(error, "reason", error)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        _fail(endpoint, url, f"no answer within {endpoint.timeout:g} s (--timeout)",
              "the server may be overloaded or the query too expensive; raise --timeout or simplify the query")
    if isinstance(reason, ConnectionRefusedError):
        _fail(endpoint, url, "cannot connect: connection refused", "is the server running, on this host and port?",
              transient=True)
    if isinstance(reason, socket.gaierror):
        _fail(endpoint, url, "cannot connect: unknown host", "check the host name in the URL")
    if isinstance(reason, (http.client.HTTPException, ConnectionError)):
        _fail(endpoint, url, f"the connection failed: {type(reason).__name__} {reason}".rstrip(),
              "the server closed the connection; try again, or check its logs", transient=True)
    _fail(endpoint, url, f"cannot connect: {reason}")


def _read(endpoint: Endpoint, url: str, response: Any, deadline: float) -> bytes:
    """The whole body, within the time limit (the socket timeout bounds each read; this bounds all).

    A body shorter than its Content-Length is a failure: http.client returns what arrived when the
    connection closes early, and a result document cut at a line boundary would still parse."""
    chunks: list[bytes] = []
    while True:
        if time.monotonic() > deadline:
            _fail(endpoint, url, f"no complete answer within {endpoint.timeout:g} s (--timeout)",
                  "raise --timeout, or make the query more selective")
        chunk = response.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    body = b"".join(chunks)
    promised = response.headers.get("Content-Length", "")
    if promised.isdigit() and not response.headers.get("Content-Encoding") and len(body) < int(promised):
        _fail(endpoint, url, f"the answer was cut short: {len(body)} of {promised} bytes arrived",
              "the connection broke during the answer; try again", transient=True)
    return body


def _body_of(error: SPARQLWrapperException) -> bytes:
    """The server's body, which SPARQLWrapper keeps only inside its message as a bytes repr."""
    _, sep, tail = str(error).partition("Response:\n")
    if not sep:
        return b""
    try:
        value = ast.literal_eval(tail.strip())
    except (ValueError, SyntaxError):
        return tail.encode("utf-8", errors="replace")
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"kgtool/{version('kgtool')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "kgtool"


def _wrapper(endpoint: Endpoint, text: str, *, graph_answer: bool = False) -> SPARQLWrapper:
    sparql = SPARQLWrapper(endpoint.url, agent=_agent())
    sparql.setQuery(text)
    sparql.setMethod(GET if endpoint.method is HttpMethod.GET else POST)
    sparql.setOnlyConneg(True)  # content negotiation only: no format=/output= parameters
    sparql.setReturnFormat(TURTLE if graph_answer else JSON)
    sparql.setTimeout(max(1, math.ceil(endpoint.timeout)))
    for graph in endpoint.default_graphs:
        sparql.addDefaultGraph(graph)
    if endpoint.credentials is not None:
        sparql.setHTTPAuth(BASIC)
        sparql.setCredentials(endpoint.credentials.user, endpoint.credentials.password)
    return sparql


def _send(endpoint: Endpoint, sparql: SPARQLWrapper, *, read: bool = True) -> _Response:
    """Run the request SPARQLWrapper prepared; every failure becomes one ExternalComponentError.

    A `read` whose failure may pass (TransientEndpointError) is sent again, up to `endpoint.retries`
    times, after a pause that starts at `endpoint.backoff` seconds and doubles. An update is sent once:
    a server may have done it before failing, and the caller verifies instead."""
    attempts = 1 + (max(0, endpoint.retries) if read else 0)
    for attempt in range(1, attempts + 1):
        try:
            return _send_once(endpoint, sparql)
        except TransientEndpointError as error:
            if attempt == attempts:
                if attempts == 1:
                    raise
                raise TransientEndpointError(f"{error.message} (tried {attempts} times)", hint=error.hint) from None
            time.sleep(endpoint.backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _send_once(endpoint: Endpoint, sparql: SPARQLWrapper) -> _Response:
    deadline = time.monotonic() + endpoint.timeout
    url = endpoint.url
    try:
        result = sparql.query()
        response = result.response
        headers = {key.lower(): value for key, value in response.headers.items()}
        body = _read(endpoint, url, response, deadline)
        return _Response(int(response.status), headers, body)
    except SPARQLWrapperException as error:
        status = next((code for kind, code in _WRAPPER_STATUS.items() if isinstance(error, kind)), 0)
        _http_failure(endpoint, url, status, http.client.responses.get(status, ""), _body_of(error))
    except urllib.error.HTTPError as error:
        _http_failure(endpoint, url, error.code, str(error.reason or ""), error.read() if error.fp else b"")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        _connection_failure(endpoint, url, error)


def _http(endpoint: Endpoint, method: str, url: str, data: bytes | None, headers: Mapping[str, str]) -> _Response:
    """A plain HTTP request (the Graph Store Protocol, which SPARQLWrapper does not speak)."""
    request = urllib.request.Request(url, data=data, method=method, headers={"User-Agent": _agent(), **headers})
    if endpoint.credentials is not None:
        token = base64.b64encode(f"{endpoint.credentials.user}:{endpoint.credentials.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    deadline = time.monotonic() + endpoint.timeout
    try:
        with urllib.request.urlopen(request, timeout=endpoint.timeout) as response:
            answer_headers = {key.lower(): value for key, value in response.headers.items()}
            return _Response(int(response.status), answer_headers, _read(endpoint, url, response, deadline))
    except urllib.error.HTTPError as error:
        _http_failure(endpoint, url, error.code, str(error.reason or ""), error.read() if error.fp else b"")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        _connection_failure(endpoint, url, error)


# ---- answers -----------------------------------------------------------------------------------------

def _check_complete(endpoint: Endpoint, response: _Response) -> None:
    """Virtuoso's "anytime" queries return what they found when a server-side limit stops them, with
    HTTP 206 and X-SQL-State (S1TAT): partial rows are never passed off as the answer."""
    state = response.headers.get("x-sql-state", "")
    if response.status == 206 or state:
        detail = response.headers.get("x-sql-message", "")
        _fail(endpoint, endpoint.url,
              f"the server returned incomplete results (HTTP {response.status}"
              + (f", X-SQL-State {state}" if state else "") + (f": {detail}" if detail else "") + "); nothing is shown",
              "a server-side time limit stopped the query; make it more selective or raise the server's limit")


def _term(endpoint: Endpoint, value: Any) -> Node:
    if not isinstance(value, dict) or not isinstance(value.get("value"), str):
        _fail(endpoint, endpoint.url, f"malformed results: a binding is not a term: {str(value)[:100]}")
    kind, text = value.get("type"), value["value"]
    if kind == "uri":
        return URIRef(text)
    if kind in ("literal", "typed-literal"):  # typed-literal: the 2008 draft's name, still sent by Virtuoso
        language, datatype = value.get("xml:lang"), value.get("datatype")
        if language:
            return Literal(text, lang=language)
        return Literal(text, datatype=URIRef(datatype) if datatype else None)
    if kind == "bnode":
        return BNode(text)
    _fail(endpoint, endpoint.url, f"malformed results: unknown term type {kind!r}")


def _limit_of(sparql: str) -> int | None:
    """The LIMIT of the outermost query, if it ends with one."""
    text = re.sub(r"#[^\n]*", "", sparql)
    match = re.search(r"\bLIMIT\s+(\d+)(\s+OFFSET\s+\d+)?\s*$", text, re.IGNORECASE)
    return int(match.group(1)) if match else None


def _rows_answer(endpoint: Endpoint, response: _Response, form: QueryForm, sparql: str) -> QueryResult:
    if "json" not in response.content_type:
        _fail(endpoint, endpoint.url, "malformed results: expected SPARQL JSON results, got "
              + (response.content_type or "no content type") + (f": {_excerpt(response.body, 120)}" if response.body else ""))
    try:
        document = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(endpoint, endpoint.url, f"malformed results: not JSON ({error})")
    if not isinstance(document, dict):
        _fail(endpoint, endpoint.url, "malformed results: not a SPARQL JSON results object")
    head = document.get("head") or {}
    if form is QueryForm.ASK:
        if isinstance(document.get("boolean"), bool):
            return QueryResult(boolean=document["boolean"], form=form)
        # Virtuoso 7.2 answers ASK as a one-column table __ASK_RETVAL holding 1 (or no row when false)
        if isinstance(head, dict) and head.get("vars") == ["__ASK_RETVAL"]:
            rows = (document.get("results") or {}).get("bindings") or []
            value = rows[0].get("__ASK_RETVAL", {}).get("value") if rows and isinstance(rows[0], dict) else None
            return QueryResult(boolean=value not in (None, "0", "false"), form=form)
        _fail(endpoint, endpoint.url, "malformed results: an ASK answer without a boolean")
    variables = head.get("vars") if isinstance(head, dict) else None
    bindings = (document.get("results") or {}).get("bindings") if isinstance(document.get("results"), dict) else None
    if not isinstance(variables, list) or not isinstance(bindings, list) \
            or not all(isinstance(v, str) for v in variables):
        _fail(endpoint, endpoint.url, "malformed results: no head.vars or results.bindings")
    rows = []
    for binding in bindings:
        if not isinstance(binding, dict):
            _fail(endpoint, endpoint.url, "malformed results: a result is not an object")
        rows.append(tuple(_term(endpoint, binding[v]) if v in binding else None for v in variables))
    warnings = []
    cap = response.headers.get("x-sparql-maxrows")
    if cap and cap.isdigit() and len(rows) >= int(cap):
        warnings.append(f"the server caps answers at {cap} rows (X-SPARQL-MaxRows) and sent {len(rows)}: "
                        "there may be more; narrow the query or page through it with ORDER BY, LIMIT and OFFSET")
    elif len(rows) in COMMON_ROW_CAPS and _limit_of(sparql) != len(rows):
        warnings.append(f"{len(rows)} rows is a common server cap (such as Virtuoso's ResultSetMaxRows): the answer "
                        "may be cut short; narrow the query or page through it with ORDER BY, LIMIT and OFFSET")
    return QueryResult(tuple(variables), tuple(rows), form=form, warnings=tuple(warnings))


def _graph_answer(endpoint: Endpoint, response: _Response, form: QueryForm) -> QueryResult:
    fmt = _GRAPH_FORMATS.get(response.content_type)
    if fmt is None:
        _fail(endpoint, endpoint.url, "malformed results: expected an RDF graph (Turtle), got "
              + (response.content_type or "no content type"))
    graph = new_graph()
    try:  # guarded as any file from a stranger is: no entity expansion, no context fetched, bounded
        parse_bytes(graph, response.body, fmt, base=endpoint.url)
    except BadInputError as error:
        where = f" (line {error.line})" if error.line else ""
        detail = error.message.removeprefix(f"malformed {fmt}: ")
        _fail(endpoint, endpoint.url, f"malformed results: the {fmt} does not parse{where}: {detail[:200]}")
    return QueryResult(graph=graph, form=form)


def run_remote(endpoint: Endpoint, sparql: str, bindings: Mapping[str, Identifier] | None = None) -> QueryResult:
    """Run any query form on the endpoint, with kgtool's prefixes declared and `bindings` bound."""
    form = query_form(sparql)
    text = bind_values(declare_prefixes(sparql), bindings or {}, form)
    response = _send(endpoint, _wrapper(endpoint, text, graph_answer=form.gives_graph))
    _check_complete(endpoint, response)
    if form.gives_graph:
        return _graph_answer(endpoint, response, form)
    return _rows_answer(endpoint, response, form, text)


def remote_label_lookup(endpoint: Endpoint) -> LabelLookup:
    """Entities on the server whose rdfs:label, skos:prefLabel or skos:altLabel is the text, ignoring case."""
    def lookup(text: str) -> list[URIRef]:
        query = ("SELECT DISTINCT ?entity WHERE {\n"
                 "  ?entity rdfs:label|skos:prefLabel|skos:altLabel ?label .\n"
                 "  FILTER (isIRI(?entity) && LCASE(STR(?label)) = LCASE(STR(?text)))\n"
                 "} ORDER BY ?entity")
        result = run_remote(endpoint, query, {"text": Literal(text)})
        return [row[0] for row in result.rows if isinstance(row[0], URIRef)]

    return lookup


def remote_labels(endpoint: Endpoint, terms: Sequence[Node | None]) -> dict[Node, str]:
    """rdfs:labels of the IRIs, from the server (for tables that show labels beside IRIs)."""
    iris = sorted({t for t in terms if isinstance(t, URIRef)})
    labels: dict[Node, str] = {}
    for start in range(0, len(iris), LABEL_BATCH):
        batch = iris[start:start + LABEL_BATCH]
        query = ("SELECT ?entity ?label WHERE {\n  VALUES ?entity { " + " ".join(term_sparql(t) for t in batch)
                 + " }\n  ?entity rdfs:label ?label .\n} ORDER BY ?entity ?label")
        result = run_remote(endpoint, query)
        if not {"entity", "label"} <= set(result.variables):  # labels are a courtesy: not from this server
            return {}
        entity_at, label_at = result.variables.index("entity"), result.variables.index("label")
        for row in result.rows:
            entity, label = row[entity_at], row[label_at]
            if entity is not None and label is not None:
                labels.setdefault(entity, str(label))
    return labels


def run_saved_remote(endpoint: Endpoint, query: SavedQuery, params: Mapping[str, str] | None = None) -> QueryResult:
    """A saved query on the server; labels given as parameters are looked up on the server too."""
    bindings = bind_parameters(None, query, params or {}, lookup=remote_label_lookup(endpoint))
    return run_remote(endpoint, query.text, bindings)


# ---- writing a graph -----------------------------------------------------------------------------------

def _update(endpoint: Endpoint, update: str) -> None:
    sparql = _wrapper(endpoint, update)
    sparql.setMethod(POST)
    response = _send(endpoint, sparql, read=False)
    if response.status >= 300:  # pragma: no cover - urllib raises for these
        _http_failure(endpoint, endpoint.url, response.status, "", response.body)


def count_triples(endpoint: Endpoint, graph: str) -> int:
    """How many triples the named graph holds on the server (0 when it does not exist)."""
    plain = replace(endpoint, default_graphs=())
    result = run_remote(plain, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH " + term_sparql(URIRef(graph))
                        + " { ?s ?p ?o } }")
    try:
        return int(str(result.rows[0][0]))
    except (IndexError, ValueError):
        _fail(endpoint, endpoint.url, "malformed results: a COUNT query gave no number")


def _chunks(graph: Graph, size: int) -> list[list[tuple[Node, Node, Node]]]:
    """The triples in groups of about `size`, never splitting triples that share a blank node (blank
    nodes in INSERT DATA are scoped to one request)."""
    parent: dict[Node, Node] = {}

    def root(node: Node) -> Node:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    triples = sorted(graph, key=lambda t: tuple(term.n3() for term in t))
    for s, _, o in triples:
        if isinstance(s, BNode) and isinstance(o, BNode):
            parent[root(s)] = root(o)
    groups: dict[Node | int, list[tuple[Node, Node, Node]]] = {}
    for index, (s, p, o) in enumerate(triples):
        node = s if isinstance(s, BNode) else o if isinstance(o, BNode) else None
        groups.setdefault(root(node) if node is not None else index, []).append((s, p, o))
    chunks: list[list[tuple[Node, Node, Node]]] = [[]]
    for group in groups.values():
        if chunks[-1] and len(chunks[-1]) + len(group) > size:
            chunks.append([])
        chunks[-1].extend(group)
    return [chunk for chunk in chunks if chunk]


def _insert_by_update(endpoint: Endpoint, graph: Graph, staging: URIRef) -> int:
    _update(endpoint, f"DROP SILENT GRAPH {term_sparql(staging)}")
    requests = 0
    for chunk in _chunks(graph, INSERT_CHUNK):
        lines = "\n".join(f"    {s.n3()} {p.n3()} {o.n3()} ." for s, p, o in chunk)
        block = f"{{\n  GRAPH {term_sparql(staging)} {{\n{lines}\n  }}\n}}"
        if any(isinstance(term, BNode) for triple in chunk for term in triple):
            # Virtuoso 7.2 refuses blank nodes in INSERT DATA ("not allowed in a constant clause"); an
            # INSERT template with one empty solution makes the same fresh blank nodes, on every server
            _update(endpoint, f"INSERT {block} WHERE {{ }}")
        else:
            _update(endpoint, f"INSERT DATA {block}")
        requests += 1
    return requests


def _put_graph_store(endpoint: Endpoint, graph: Graph, staging: URIRef) -> None:
    assert endpoint.graph_store is not None
    url = endpoint.graph_store + ("&" if "?" in endpoint.graph_store else "?") + urllib.parse.urlencode({"graph": str(staging)})
    # N-Triples is Turtle; servers that predate application/n-triples (Virtuoso 7) all accept text/turtle
    _http(endpoint, "PUT", url, serialise(graph, RdfFormat.NTRIPLES), {"Content-Type": "text/turtle; charset=utf-8"})


def _upload(endpoint: Endpoint, graph: Graph, staging: URIRef, via: LoadMethod, notes: list[str]) -> str:
    """Put the graph into the staging graph; how it went, for the report."""
    expected = len(graph)
    if via is not LoadMethod.UPDATE:
        if endpoint.graph_store is None:
            if via is LoadMethod.GRAPH_STORE:
                raise BadInputError("no Graph Store Protocol URL for this endpoint", hint="give --graph-store URL")
        else:
            try:
                _put_graph_store(endpoint, graph, staging)
                return f"Graph Store Protocol PUT to {endpoint.graph_store}"
            except ExternalComponentError as error:
                unavailable = re.search(r"HTTP (404|405|406|415|501)\b", error.message) is not None
                if via is LoadMethod.AUTO and unavailable:
                    notes.append(f"the Graph Store Protocol is not available ({error.message}); used SPARQL Update")
                elif count_triples(endpoint, str(staging)) == expected:  # an error can arrive after success
                    notes.append(f"the server reported an error after the upload ({error.message}), "
                                 "but the staging graph holds every triple")
                    return f"Graph Store Protocol PUT to {endpoint.graph_store}"
                else:
                    raise
    requests = _insert_by_update(endpoint, graph, staging)
    return f"SPARQL Update ({requests} INSERT request{'s' if requests != 1 else ''})"


def _drop_quietly(endpoint: Endpoint, graph: URIRef) -> bool:
    try:
        _update(endpoint, f"DROP SILENT GRAPH {term_sparql(graph)}")
        return count_triples(endpoint, str(graph)) == 0
    except KgtoolError:
        return False


def load(endpoint: Endpoint, graph: Graph, target: str, *, via: LoadMethod = LoadMethod.AUTO,
         staging_name: Callable[[], str] | None = None) -> LoadReport:
    """Replace the named graph `target` on the server with `graph`, atomically as far as a user can see.

    The triples go to a new staging graph first (Graph Store Protocol PUT, or SPARQL Update INSERT DATA
    in chunks), which must then hold exactly as many triples as were sent; one update request then
    MOVEs it onto the target, and the target is counted again (a 504 can arrive after success). On any
    failure the target keeps its old triples where that can be ensured, and the error says what state
    the server is in."""
    target_iri = checked_iri(target, what="--graph")
    staging = URIRef(staging_name() if staging_name else f"urn:kgtool:staging:{uuid.uuid4()}")
    expected, notes = len(graph), list[str]()
    where = f"graph <{target_iri}> at {endpoint.url}"
    previous = count_triples(endpoint, str(target_iri))
    try:
        method = _upload(endpoint, graph, staging, via, notes)
        staged = count_triples(endpoint, str(staging))
        if staged != expected:
            raise ExternalComponentError(
                f"the staging graph holds {staged} triples but {expected} were sent",
                hint="the server may have merged literals it considers equal, or dropped some; "
                     "check its log")
    except KgtoolError as error:
        removed = _drop_quietly(endpoint, staging)
        state = (f"The {where} is unchanged ({previous} triples); "
                 + ("the staging graph was removed." if removed
                    else f"the staging graph <{staging}> may remain: remove it with DROP SILENT GRAPH <{staging}>."))
        raise type(error)(f"loading failed before the target graph was touched: {error.message}. {state}",
                          hint=error.hint) from None
    replace_error: KgtoolError | None = None
    try:
        _update(endpoint, f"MOVE SILENT GRAPH {term_sparql(staging)} TO GRAPH {term_sparql(target_iri)}")
    except ExternalComponentError as error:
        replace_error = error
        if "HTTP 400" in error.message:  # no MOVE: the same in SPARQL 1.1's other words, one request
            replace_error = None
            try:
                _update(endpoint, f"DROP SILENT GRAPH {term_sparql(target_iri)} ;\n"
                                  f"ADD SILENT GRAPH {term_sparql(staging)} TO GRAPH {term_sparql(target_iri)} ;\n"
                                  f"DROP SILENT GRAPH {term_sparql(staging)}")
            except ExternalComponentError as second:
                replace_error = second
    try:
        now, left = count_triples(endpoint, str(target_iri)), count_triples(endpoint, str(staging))
    except ExternalComponentError as error:
        cause = f" (the replace step reported: {replace_error.message})" if replace_error else ""
        raise ExternalComponentError(
            f"the {where} may or may not have been replaced{cause}: it could not be counted afterwards "
            f"({error.message}). The new triples were in the staging graph <{staging}>.",
            hint=f"count it with: kgtool query --endpoint {endpoint.url} "
                 f"-e 'SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{target_iri}> {{ ?s ?p ?o }} }}'") from None
    if now == expected and left == 0:
        if replace_error is not None:
            notes.append(f"the server reported an error ({replace_error.message}) "
                         "but the graph was replaced (verified by counting)")
        return LoadReport(str(target_iri), now, previous, method, tuple(notes))
    if left == expected:
        removed = _drop_quietly(endpoint, staging)
        cause = replace_error.message if replace_error else "the server did not move the staging graph"
        raise ExternalComponentError(
            f"replacing the {where} failed: {cause}. The target holds {now} triples as before"
            + (" and the staging graph was removed." if removed else f"; the new triples are in <{staging}>."),
            hint=replace_error.hint if replace_error else None)
    raise ExternalComponentError(
        f"after replacing the {where} it holds {now} triples, not {expected}, and the staging graph <{staging}> "
        f"holds {left}: the server is in an unexpected state"
        + (f" (the replace step reported: {replace_error.message})" if replace_error else ""),
        hint="load again; if it fails the same way, check the server's log")


# ---- SHACL validation on the server ------------------------------------------------------------------

@dataclass(frozen=True)
class ServerTraits:
    """What a server does that the validation queries must allow for, found by one query (`probe`).

    `software` is the HTTP `Server` header. `virtuoso`: the server is Virtuoso (the header, or its JSON
    results' "typed-literal" term type when a proxy rewrites the header), whose transitive property paths
    skip cycles. `retypes`: the server's store keeps typed literals only in canonical form, derived integer
    types as xsd:integer and xsd:dateTimeStamp as xsd:dateTime (Oxigraph, behind `kgtool serve` or its own
    server), so the datatype the data was written with is lost, unless (`verbatim`) the store also has the
    verbatim copies of literals that `kgtool store` keeps (`kgtool serve --store`), which the queries then
    read as they do on a store here."""

    software: str
    virtuoso: bool
    retypes: bool
    verbatim: bool = False


_PROBE = ("SELECT ?x ?d WHERE { BIND (\"05\"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger> AS ?x) "
          "BIND (DATATYPE(?x) AS ?d) }")


def probe(endpoint: Endpoint) -> ServerTraits:
    """Ask the server one query whose answer, and the `Server` header with it, tell its traits."""
    response = _send(endpoint, _wrapper(endpoint, _PROBE))
    _check_complete(endpoint, response)
    result = _rows_answer(endpoint, response, QueryForm.SELECT, _PROBE)
    software = " ".join(response.headers.get("server", "").split())
    datatype = str(result.rows[0][1]) if result.rows and len(result.rows[0]) > 1 else ""
    virtuoso = software.lower().startswith("virtuoso") or b'"typed-literal"' in response.body
    retypes = datatype == "http://www.w3.org/2001/XMLSchema#integer"
    verbatim = retypes and bool(run_remote(replace(endpoint, default_graphs=()), (
        f"SELECT ?p WHERE {{ GRAPH <{LEXICAL_GRAPH}> {{ <{LEXICAL_GRAPH}> <{PRESERVES}> ?p }} "
        f"FILTER (?p = <{EVERY_PREDICATE}>) }}")).rows)
    return ServerTraits(software, virtuoso, retypes, verbatim)


class EndpointRunner:
    """Runs the SPARQL validation engine's queries (kgtool.shacl_sparql) on the server, `workers` at a time,
    so a graph that lives there is validated where it lives. An answer that may have been cut short (a
    row cap) fails the run: a validation report must not miss results silently.

    What the server is (`traits`, asked once with `probe` unless given) decides how the queries are
    written: on every server the plainest forms (`portable`: Virtuoso 7 miscompiles BINDs of EXISTS and
    SELECTs nested under BINDs, and the plain forms are standard everywhere); on Virtuoso, whose
    transitive paths skip cycles, a constraint that looks for a cycle fetches the steps of its path and
    the cycles are found here (`cycles` False); on a server that `retypes` literals, derived integer
    datatypes are checked on the value, unless the server's store has the verbatim copies of literals
    that `kgtool store` keeps (`lexical`), which are then read as on a store here."""

    portable = True

    def __init__(self, endpoint: Endpoint, *, workers: int = 4, traits: ServerTraits | None = None) -> None:
        self.endpoint = endpoint
        self.workers = workers
        self.traits = traits if traits is not None else probe(endpoint)
        self.cycles = not self.traits.virtuoso
        self.lexical = self.traits.verbatim
        self.retypes = self.traits.retypes and not self.traits.verbatim

    def select(self, text: str) -> Solutions:
        result = run_remote(self.endpoint, text)
        if result.warnings:
            _fail(self.endpoint, self.endpoint.url, f"a validation query's answer may be incomplete: {result.warnings[0]}",
                  "raise the server's row limit (Virtuoso: ResultSetMaxRows) or validate a smaller graph")
        return Solutions.from_rdflib(result.variables, result.rows)
