"""`kgtool serve`: a SPARQL 1.1 Protocol endpoint, a query workbench and entity pages over the graph.

`make_app(source)` gives a Starlette application (usable in-process, e.g. with a test client) over the
project's built graph or a `Store`:

- `/sparql`: the SPARQL 1.1 Protocol (GET and POST). SELECT and ASK answers as JSON, XML, CSV or TSV,
  CONSTRUCT and DESCRIBE as Turtle or JSON-LD, chosen by the `format` parameter or the Accept header;
  the service description when there is no query. Read-only unless made writable: an update is refused
  with 403. Every query runs through kgtool's own query layer (`kgtool.queries`) with a time limit (the
  query is stopped, and the client gets 503 with a message) and a result cap (the answer is cut and the
  client is told, by the `Kgtool-Result-Truncated` header and, in JSON, a `kgtool` member).
- `/`: the workbench (static files in `kgtool/web/`, no external host): the saved queries as tabs,
  their parameters as form fields, results as a table of labels linked to entity pages.
- `/api/queries`, `/api/run`: what the workbench uses (saved queries; run one with its parameters
  bound as RDF terms, never spliced into the text).
- `/entity/{prefixed name or IRI}`: an entity's labels, types, every claim about it with its value,
  source document, evidence quote and conflicts, and the other statements that mention it.

`serve_forever` serves the graph with uvicorn on a host and port (loopback unless told otherwise);
`running_server` does so in a background thread for tests, scripts and benchmarks.
"""
from __future__ import annotations

import html
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

import anyio
import anyio.to_thread
import uvicorn
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Identifier, Node
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .config import Project
from .errors import BadInputError, KgtoolError
from .namespaces import KG, PREFIXES, RDF, RDFS, SKOS, XSD
from .queries import (
    QueryResult,
    QueryTimeoutError,
    SavedQuery,
    adhoc_query,
    checked_iri,
    find_saved_query,
    list_saved_queries,
    run_saved_query,
    run_sparql,
)
from .rdfio import RdfFormat, serialise
from .render import query_csv, query_graph, query_json, query_tsv, query_xml
from .store import Store, new_graph
from .untrusted import keyword_lines

WEB = Path(__file__).resolve().parent / "web"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TIMEOUT = 30.0
"""Seconds a query may run before it is stopped and the client gets 503."""
DEFAULT_RESULT_CAP = 10_000
"""Rows (or triples) an answer may hold; a longer one is cut there and the client is told."""
QUERY_WORKERS = 4
"""Queries that run at once; more wait their turn (the machine has few cores, a query is CPU-bound)."""

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
VOID = Namespace("http://rdfs.org/ns/void#")

ROW_MEDIA = {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
             "csv": "text/csv", "tsv": "text/tab-separated-values"}
GRAPH_MEDIA = {"turtle": "text/turtle", "jsonld": "application/ld+json"}
MEDIA_ALIASES = {"application/json": "json", "application/xml": "xml", "text/xml": "xml",
                 "application/x-turtle": "turtle", "application/json+ld": "jsonld"}
_RENDER_ROWS: dict[str, Callable[[QueryResult], str]] = {
    "json": query_json, "xml": query_xml, "csv": query_csv, "tsv": query_tsv}
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
"""Pages load scripts, styles and images from this server only (the workbench works offline)."""
_LOCAL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CLAIM_CLASSES = (KG.QuantitativeClaim, KG.RelationClaim)
T = TypeVar("T")


class HttpError(Exception):
    """A request the server answers with an error status and a one-line message (and maybe a hint)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint

    def text(self) -> str:
        return f"error: {self.message}\n" + (f"  hint: {self.hint}\n" if self.hint else "")


@dataclass(frozen=True)
class CappedAnswer:
    """A query's result after the result cap: `truncated` says rows or triples were cut at `cap`."""

    result: QueryResult
    truncated: bool
    cap: int
    seconds: float


# ---- names and links ------------------------------------------------------------------------------------

def short_name(iri: str) -> str | None:
    """The prefixed name of an IRI in one of kgtool's namespaces (kgr:russia), or None."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and _LOCAL_NAME.fullmatch(iri[len(namespace):]):
            return f"{prefix}:{iri[len(namespace):]}"
    return None


def entity_path(iri: str) -> str:
    """The server path of an IRI's entity page: /entity/kgr:russia, else the whole IRI percent-encoded."""
    return "/entity/" + (short_name(iri) or quote(iri, safe=""))


def entity_iri(reference: str) -> URIRef:
    """The IRI an entity page's path names: a prefixed name in kgtool's namespaces or an absolute IRI."""
    prefix, _, local = reference.partition(":")
    if prefix in PREFIXES and local and not local.startswith("//"):
        return checked_iri(PREFIXES[prefix] + local, what="entity")
    return checked_iri(reference, what="entity")


# ---- the query service ----------------------------------------------------------------------------------

class QueryService:
    """Runs queries on one store through kgtool's query layer, with a time limit and a result cap, a few
    at a time in worker threads so that the server keeps answering while they run."""

    def __init__(self, store: Store, queries: Path | None, *, read_only: bool, timeout: float,
                 result_cap: int) -> None:
        if not timeout > 0:
            raise BadInputError(f"the time limit must be a positive number of seconds, got {timeout}")
        if result_cap < 1:
            raise BadInputError(f"the result cap must be at least 1, got {result_cap}")
        self.store = store
        self.queries = queries
        self.read_only = read_only
        self.timeout = timeout
        self.result_cap = result_cap
        self._workers = anyio.CapacityLimiter(QUERY_WORKERS)
        self._update_lock = threading.Lock()

    async def _in_worker(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work, limiter=self._workers)

    def _capped(self, result: QueryResult, started: float) -> CappedAnswer:
        cap = self.result_cap
        truncated = False
        if result.graph is not None and len(result.graph) > cap:
            kept = new_graph()
            # a stable choice, triples about IRIs before those about blank nodes
            for triple in sorted(result.graph, key=lambda t: (isinstance(t[0], BNode), str(t[0]), str(t[1]),
                                                              str(t[2])))[:cap]:
                kept.add(triple)
            result, truncated = replace(result, graph=kept), True
        elif len(result.rows) > cap:
            result, truncated = replace(result, rows=result.rows[:cap]), True
        return CappedAnswer(result, truncated, cap, time.monotonic() - started)

    def _timed_out(self) -> HttpError:
        return HttpError(503, f"the query gave no answer within {self.timeout:g} s (this server's time limit) "
                              "and was stopped", "make the query more selective, or ask for fewer results")

    async def run(self, sparql: str, bindings: dict[str, Identifier] | None = None) -> CappedAnswer:
        """Any query form, its values bound as RDF terms."""
        def work() -> CappedAnswer:
            started = time.monotonic()
            return self._capped(run_sparql(self.store, sparql, bindings, timeout=self.timeout), started)

        return await self._guarded(work)

    async def run_saved(self, saved: SavedQuery, params: dict[str, str]) -> CappedAnswer:
        """A saved (or ad-hoc, with a `# param:` header) query with its parameters bound as RDF terms."""
        def work() -> CappedAnswer:
            started = time.monotonic()
            return self._capped(run_saved_query(self.store, saved, params, timeout=self.timeout), started)

        return await self._guarded(work)

    async def _guarded(self, work: Callable[[], CappedAnswer]) -> CappedAnswer:
        try:
            return await self._in_worker(work)
        except QueryTimeoutError:
            raise self._timed_out() from None
        except BadInputError as error:
            raise HttpError(400, error.message, error.hint) from None
        except KgtoolError as error:
            raise HttpError(500, error.message, error.hint) from None

    async def update(self, sparql: str) -> None:
        """Apply a SPARQL Update to the served store (refused when read-only)."""
        if self.read_only:
            raise HttpError(403, "this endpoint is read-only: SPARQL Update is refused",
                            "start the server with --allow-updates to change the graph it serves")
        for keyword in ("LOAD", "SERVICE"):  # both make the engine fetch from any host the text names
            lines = keyword_lines(sparql, keyword)
            if lines:
                raise HttpError(403, f"an update with {keyword} (line {lines[0]}) is refused: this server fetches "
                                "nothing from the network", "send the triples themselves with INSERT DATA")

        def work() -> None:
            with self._update_lock:
                self.store.oxigraph.update(sparql, prefixes=PREFIXES)

        try:
            await self._in_worker(work)
        except SyntaxError as error:
            raise HttpError(400, f"the update is not valid SPARQL: {' '.join(str(error).split())[:300]}") from None
        except (OSError, RuntimeError) as error:
            raise HttpError(403, f"the store refused the update: {error}") from None

    def saved_queries(self) -> list[SavedQuery]:
        return list_saved_queries(self.queries) if self.queries is not None else []

    def saved_query(self, name: str) -> SavedQuery:
        if self.queries is None:
            raise HttpError(404, "this server has no saved queries")
        try:
            return find_saved_query(self.queries, name)
        except BadInputError as error:
            raise HttpError(404, error.message, error.hint) from None


# ---- content negotiation ----------------------------------------------------------------------------------

def _accepted(accept: str) -> list[str]:
    """The media types of an Accept header, most preferred first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept.split(",")):
        media, *parameters = [part.strip() for part in item.split(";")]
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, index, media.lower()))
    return [media for _, _, media in sorted(ranked)]


def negotiate(choices: dict[str, str], format_param: str | None, accept: str | None) -> str:
    """The format to answer in, by name: the `format` parameter (a name or a media type) wins, then the
    Accept header; the first choice when neither says. 406 when nothing offered is acceptable."""
    by_media = {media: name for name, media in choices.items()}
    by_media.update({media: name for media, name in MEDIA_ALIASES.items() if name in choices})
    if format_param:
        wanted = format_param.strip().lower()
        if wanted in choices:
            return wanted
        if wanted in by_media:
            return by_media[wanted]
        raise HttpError(400, f"format {format_param!r} does not suit this answer",
                        f"use one of {', '.join(choices)}")
    if not accept:
        return next(iter(choices))
    for media in _accepted(accept):
        if media in by_media:
            return by_media[media]
        if media == "*/*":
            return next(iter(choices))
        if media.endswith("/*"):
            for name, offered in choices.items():
                if offered.startswith(media[:-1]):
                    return name
    raise HttpError(406, f"cannot answer in any of the accepted types ({accept})",
                    "accept one of " + ", ".join(choices.values()))


def _cap_headers(service: QueryService, answer: CappedAnswer) -> dict[str, str]:
    return {"Kgtool-Result-Cap": str(answer.cap), "Kgtool-Result-Truncated": "true" if answer.truncated else "false",
            "Kgtool-Time-Limit": f"{service.timeout:g}"}


def _truncation_note(answer: CappedAnswer) -> str:
    what = "triples" if answer.result.graph is not None else "rows"
    return f"the answer was cut at {answer.cap} {what} (this server's result cap)"


def protocol_response(service: QueryService, answer: CappedAnswer, format_param: str | None, accept: str | None) -> Response:
    """A query's answer in the negotiated format, with the time limit and the result cap in headers."""
    headers = _cap_headers(service, answer)
    result = answer.result
    if result.graph is not None:
        name = negotiate(GRAPH_MEDIA, format_param, accept)
        return Response(query_graph(result, name), media_type=GRAPH_MEDIA[name], headers=headers)
    name = negotiate(ROW_MEDIA, format_param, accept)
    text = _RENDER_ROWS[name](result)
    if name == "json" and answer.truncated:
        document = json.loads(text)
        document["kgtool"] = {"truncated": True, "resultCap": answer.cap, "message": _truncation_note(answer)}
        text = json.dumps(document, indent=2, ensure_ascii=False)
    media = ROW_MEDIA[name] + ("; charset=utf-8" if name in ("csv", "tsv") else "")
    return Response(text.encode("utf-8"), media_type=media, headers=headers)


def service_description(service: QueryService, endpoint: str) -> Graph:
    """A SPARQL 1.1 Service Description of the endpoint: languages, result formats, the dataset's size."""
    graph = new_graph()
    for prefix, namespace in (("sd", SD), ("formats", FORMATS), ("void", VOID)):
        graph.bind(prefix, namespace)
    node = URIRef(endpoint)
    dataset, default_graph = BNode("dataset"), BNode("defaultGraph")
    graph.add((node, RDF.type, SD.Service))
    graph.add((node, SD.endpoint, node))
    graph.add((node, SD.supportedLanguage, SD.SPARQL11Query))
    if not service.read_only:
        graph.add((node, SD.supportedLanguage, SD.SPARQL11Update))
    for result_format in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                          "Turtle", "JSON-LD"):
        graph.add((node, SD.resultFormat, FORMATS[result_format]))
    graph.add((node, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, SD.defaultGraph, default_graph))
    graph.add((default_graph, RDF.type, SD.Graph))
    graph.add((default_graph, VOID.triples, Literal(len(service.store))))
    graph.add((node, RDFS.comment, Literal(
        f"kgtool's SPARQL endpoint ({'read-only' if service.read_only else 'updates allowed'}): a query is stopped "
        f"after {service.timeout:g} s (HTTP 503) and an answer is cut at {service.result_cap} rows or triples "
        "(header Kgtool-Result-Truncated: true).", lang="en")))
    return graph


# ---- the SPARQL protocol ---------------------------------------------------------------------------------

async def _protocol_request(request: Request) -> tuple[str | None, str | None, str | None]:
    """(query, update, format) from a GET or POST request, as the SPARQL 1.1 Protocol sends them."""
    params = request.query_params
    format_param = params.get("format")
    for name in ("default-graph-uri", "named-graph-uri", "using-graph-uri", "using-named-graph-uri"):
        if name in params:
            raise HttpError(400, f"this endpoint serves one default graph: {name} is not supported")
    if request.method == "GET":
        if len(params.getlist("query")) > 1:
            raise HttpError(400, "give one query parameter, not several")
        if "update" in params:
            raise HttpError(400, "a SPARQL Update must be sent by POST")
        return params.get("query"), None, format_param
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise HttpError(400, "the form is not UTF-8") from None
        values = {name: form.get(name, []) for name in ("query", "update", "format")}
        if len(values["query"]) + len(values["update"]) != 1:
            raise HttpError(400, "give exactly one query or update parameter")
        format_param = format_param or (values["format"][0] if values["format"] else None)
        return (values["query"][0] if values["query"] else None,
                values["update"][0] if values["update"] else None, format_param)
    body = (await request.body()).decode("utf-8", errors="replace")
    if content_type == "application/sparql-query":
        return body, None, format_param
    if content_type == "application/sparql-update":
        return None, body, format_param
    raise HttpError(415, f"cannot read a POST body of type {content_type or 'none'!r}",
                    "send application/x-www-form-urlencoded, application/sparql-query or application/sparql-update")


async def sparql_endpoint(request: Request) -> Response:
    service: QueryService = request.app.state.service
    query, update, format_param = await _protocol_request(request)
    if update is not None:
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and origin != own and not service.read_only:
            raise HttpError(403, f"an update from another site ({origin}) is refused",
                            "send updates from a program, or from this server's own pages")
        await service.update(update)
        return PlainTextResponse("update applied\n")
    if query is None:
        endpoint = str(request.url.replace(query=""))
        name = negotiate({"turtle": GRAPH_MEDIA["turtle"], "jsonld": GRAPH_MEDIA["jsonld"]}, format_param,
                         request.headers.get("accept"))
        data = serialise(service_description(service, endpoint), RdfFormat(name),
                         prefixes={"sd": str(SD), "formats": str(FORMATS), "void": str(VOID)})
        return Response(data, media_type=GRAPH_MEDIA[name])
    if not query.strip():
        raise HttpError(400, "the query is empty")
    answer = await service.run(query)
    return protocol_response(service, answer, format_param, request.headers.get("accept"))


# ---- the workbench's API -----------------------------------------------------------------------------------

def term_json(term: Node | None, labels: dict[Node, str]) -> dict[str, str] | None:
    """A result cell for the workbench: the term, and for an IRI its prefixed name, label and page."""
    if term is None:
        return None
    if isinstance(term, URIRef):
        cell = {"type": "uri", "value": str(term), "href": entity_path(str(term))}
        short = short_name(str(term))
        if short:
            cell["short"] = short
        if term in labels:
            cell["label"] = labels[term]
        return cell
    if isinstance(term, Literal):
        cell = {"type": "literal", "value": str(term)}
        if term.language:
            cell["lang"] = term.language
        elif term.datatype is not None:
            cell["datatype"] = short_name(str(term.datatype)) or str(term.datatype)
        return cell
    return {"type": "bnode", "value": str(term)}


def answer_json(service: QueryService, answer: CappedAnswer) -> dict[str, Any]:
    result = answer.result
    document: dict[str, Any] = {
        "form": result.form.value, "variables": list(result.variables), "boolean": result.boolean,
        "rows": [[term_json(t, result.labels) for t in row] for row in result.rows],
        "turtle": query_graph(result, "turtle").decode("utf-8") if result.graph is not None else None,
        "truncated": answer.truncated, "resultCap": answer.cap, "timeLimit": service.timeout,
        "milliseconds": round(answer.seconds * 1000, 1), "warnings": list(result.warnings),
    }
    if answer.truncated:
        document["warnings"].append(_truncation_note(answer))
    return document


async def api_queries(request: Request) -> Response:
    service: QueryService = request.app.state.service
    return JSONResponse([{
        "name": saved.name, "title": saved.title, "description": saved.description, "text": saved.text,
        "parameters": [{"name": p.name, "type": p.type, "default": p.default, "description": p.description}
                       for p in saved.parameters],
    } for saved in service.saved_queries()])


async def api_run(request: Request) -> Response:
    """Run a saved query by name, or query text (whose `# param:` header declares parameters), with the
    given parameter values bound as RDF terms."""
    service: QueryService = request.app.state.service
    try:
        body = await request.json()
    except ValueError:
        raise HttpError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HttpError(400, "send a JSON object: {\"name\": ...} or {\"query\": ...}, with \"params\"")
    params = body.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise HttpError(400, "params must be an object of strings")
    name, text = body.get("name"), body.get("query")
    if isinstance(name, str) and text is None:
        saved = service.saved_query(name)
    elif isinstance(text, str) and name is None:
        if not text.strip():
            raise HttpError(400, "the query is empty")
        try:
            saved = adhoc_query(text)
        except BadInputError as error:
            raise HttpError(400, error.message, error.hint) from None
    else:
        raise HttpError(400, "give either a saved query's name or the query's text")
    given = {k: v for k, v in params.items() if v != ""}
    answer = await service.run_saved(saved, given)
    return JSONResponse(answer_json(service, answer), headers=_cap_headers(service, answer))


# ---- entity pages -------------------------------------------------------------------------------------------

OUTGOING = "SELECT ?entity ?predicate ?object WHERE { ?entity ?predicate ?object } ORDER BY ?predicate ?object"
INCOMING = ("SELECT ?entity ?subject ?predicate WHERE { ?subject ?predicate ?entity } "
            "ORDER BY ?predicate ?subject LIMIT 501")
INCOMING_SHOWN = 500
CLAIMS = """
SELECT ?entity ?claim ?role ?kind ?subject ?aspect ?value ?unit ?stated ?asOf ?by ?doc ?docId ?quote
       ?conflict ?conflictStated ?conflictDocId
WHERE {
  { ?claim kg:claimSubject ?entity . BIND ("subject" AS ?role) }
  UNION { ?claim kg:claimObject ?entity . BIND ("object" AS ?role) }
  UNION { ?claim kg:commodity ?entity . BIND ("commodity" AS ?role) }
  UNION { ?claim kg:attributedTo ?entity . BIND ("attributed to" AS ?role) }
  UNION { ?entity kg:hasEvidence ?ownEvidence . BIND (?entity AS ?claim) BIND ("this claim" AS ?role) }
  ?claim a ?kind .
  FILTER (?kind IN (kg:QuantitativeClaim, kg:RelationClaim))
  OPTIONAL { ?claim kg:claimSubject ?subject }
  OPTIONAL { ?claim kg:measure ?measure }
  OPTIONAL { ?claim kg:claimProperty ?property }
  BIND (COALESCE(?measure, ?property) AS ?aspect)
  OPTIONAL { ?claim kg:value ?number }
  OPTIONAL { ?claim kg:claimValue ?literal }
  OPTIONAL { ?claim kg:claimObject ?object }
  BIND (COALESCE(?number, ?literal, ?object) AS ?value)
  OPTIONAL { ?claim kg:unit ?unit }
  OPTIONAL { ?claim kg:asStated ?stated }
  OPTIONAL { ?claim kg:asOf ?asOf }
  OPTIONAL { ?claim kg:attributedTo ?by }
  OPTIONAL { ?claim prov:wasDerivedFrom ?doc . OPTIONAL { ?doc kg:documentId ?docId } }
  OPTIONAL { ?claim kg:hasEvidence ?evidence . ?evidence oa:hasSelector ?selector . ?selector oa:exact ?quote }
  OPTIONAL {
    ?claim kg:conflictsWith ?conflict .
    OPTIONAL { ?conflict kg:asStated ?conflictStated }
    OPTIONAL { ?conflict prov:wasDerivedFrom ?conflictDoc . ?conflictDoc kg:documentId ?conflictDocId }
  }
}
ORDER BY ?claim ?conflict
"""
_ROLE_ORDER = ("this claim", "subject", "object", "commodity", "attributed to")
"""The roles an entity plays in a claim (?role in CLAIMS), in the order the page lists them."""
_LABEL_PREDICATES = (RDFS.label, SKOS.prefLabel, SKOS.altLabel)
_DEFINITION_PREDICATES = (SKOS.definition, RDFS.comment)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _term_html(term: Node | None, labels: dict[Node, str]) -> str:
    """A term as HTML: an IRI as a link to its entity page, labelled, with its prefixed name beside it."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        shown = short_name(str(term)) or str(term)
        label = labels.get(term)
        inner = (f'{_esc(label)} <span class="iri">{_esc(shown)}</span>' if label
                 else f'<span class="iri">{_esc(shown)}</span>')
        return f'<a href="{_esc(entity_path(str(term)))}">{inner}</a>'
    if isinstance(term, Literal):
        extra = ""
        if term.language:
            extra = f' <span class="datatype">@{_esc(term.language)}</span>'
        elif term.datatype is not None and term.datatype != XSD.string:
            extra = f' <span class="datatype">{_esc(short_name(str(term.datatype)) or term.datatype)}</span>'
        return f"{_esc(term)}{extra}"
    return f'<span class="iri">_:{_esc(term)}</span>'


def page(title: str, body: str) -> str:
    """A complete HTML page in the workbench's style (assets from this server only)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_esc(title)} - kgtool</title>\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<link rel="stylesheet" href="/web/workbench.css">\n'
            '<link rel="icon" href="/web/favicon.svg" type="image/svg+xml">\n</head>\n<body>\n'
            '<header class="bar"><a class="brand" href="/">kgtool</a>'
            '<nav><a href="/">Workbench</a><a href="/sparql">Service description</a></nav></header>\n'
            f'<main class="entity">\n{body}\n</main>\n</body>\n</html>\n')


@dataclass
class _ClaimRow:
    """One claim on an entity page, with what the rows of the claims query say about it."""

    claim: URIRef
    kind: Node | None
    subject: Node | None
    aspect: Node | None
    value: Node | None
    unit: Node | None
    stated: Node | None
    as_of: Node | None
    by: Node | None
    doc: Node | None
    doc_id: Node | None
    roles: set[str] = field(default_factory=set)
    quotes: list[str] = field(default_factory=list)
    conflicts: dict[Node, tuple[Node | None, Node | None]] = field(default_factory=dict)


def _claims(result: QueryResult) -> list[_ClaimRow]:
    """One entry per claim, its roles, quotes and conflicts gathered from the rows; conflicting claims first."""
    index = {name: i for i, name in enumerate(result.variables)}
    claims: dict[Node, _ClaimRow] = {}
    for row in result.rows:
        def get(name: str, row: tuple[Node | None, ...] = row) -> Node | None:
            return row[index[name]]

        claim = get("claim")
        if not isinstance(claim, URIRef):
            continue
        entry = claims.get(claim)
        if entry is None:
            entry = claims[claim] = _ClaimRow(
                claim, kind=get("kind"), subject=get("subject"), aspect=get("aspect"), value=get("value"),
                unit=get("unit"), stated=get("stated"), as_of=get("asOf"), by=get("by"), doc=get("doc"),
                doc_id=get("docId"))
        entry.roles.add(str(get("role")))
        quote_text = get("quote")
        if quote_text is not None and str(quote_text) not in entry.quotes:
            entry.quotes.append(str(quote_text))
        conflict = get("conflict")
        if conflict is not None:
            entry.conflicts[conflict] = (get("conflictStated"), get("conflictDocId"))
    return sorted(claims.values(), key=lambda c: (not c.conflicts, min(_ROLE_ORDER.index(r) for r in c.roles),
                                                  str(c.doc_id or ""), str(c.claim)))


def _claims_html(claims: list[_ClaimRow], labels: dict[Node, str]) -> str:
    conflicting = sum(1 for c in claims if c.conflicts)
    heading = f"Claims ({len(claims)}" + (f", {conflicting} in conflict" if conflicting else "") + ")"
    if not claims:
        return f'<section id="claims"><h2>{heading}</h2><p class="empty">No claim is about this.</p></section>'
    rows = []
    for c in claims:
        value = _term_html(c.value, labels)
        if c.unit is not None:
            value += " " + _term_html(c.unit, labels)
        source = _term_html(c.doc, labels) if c.doc is not None else ""
        if c.doc_id is not None and c.doc is not None:
            source = f'<a href="{_esc(entity_path(str(c.doc)))}">document {_esc(c.doc_id)}</a>'
        quotes = "".join(f'<blockquote class="quote">{_esc(q)}</blockquote>' for q in c.quotes)
        conflicts = ""
        if c.conflicts:
            items = "".join(
                f'<li><a href="{_esc(entity_path(str(other)))}">{_esc(short_name(str(other)) or other)}</a>'
                + (f': &ldquo;{_esc(stated)}&rdquo;' if stated is not None else "")
                + (f" (document {_esc(doc_id)})" if doc_id is not None else "") + "</li>"
                for other, (stated, doc_id) in sorted(c.conflicts.items(), key=lambda item: str(item[0])))
            conflicts = f'<div class="conflicts"><strong>Conflicts with</strong><ul>{items}</ul></div>'
        kind = "quantity" if c.kind == KG.QuantitativeClaim else "relation"
        rows.append(
            f'<tr class="claim{" conflict" if c.conflicts else ""}">'
            f'<td>{_esc(", ".join(sorted(c.roles)))}</td>'
            f'<td><a href="{_esc(entity_path(str(c.claim)))}">{_esc(short_name(str(c.claim)) or c.claim)}</a>'
            f'<div class="kind">{kind}</div></td>'
            f'<td>{_term_html(c.subject, labels)}</td><td>{_term_html(c.aspect, labels)}</td>'
            f'<td class="value">{value}</td><td>{_term_html(c.stated, labels)}</td>'
            f'<td>{_term_html(c.as_of, labels)}</td><td>{_term_html(c.by, labels)}</td>'
            f'<td>{source}</td><td class="evidence">{quotes}{conflicts}</td></tr>')
    head = ("<tr><th>role</th><th>claim</th><th>about</th><th>measure or property</th><th>value</th>"
            "<th>as stated</th><th>as of</th><th>attributed to</th><th>source</th><th>evidence quote</th></tr>")
    return (f'<section id="claims"><h2>{heading}</h2><div class="scroll"><table class="results">'
            f'<thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def entity_html(iri: URIRef, outgoing: QueryResult, incoming: QueryResult, claims: QueryResult) -> str:
    """The entity page: labels, types, definitions, claims (conflicts highlighted), other statements."""
    labels = {**incoming.labels, **outgoing.labels, **claims.labels}
    by_predicate: dict[Node, list[Node]] = {}
    for _, predicate, value in outgoing.rows:
        if predicate is not None and value is not None:
            by_predicate.setdefault(predicate, []).append(value)
    names = [str(v) for p in (RDFS.label, SKOS.prefLabel) for v in by_predicate.get(p, [])]
    title = names[0] if names else short_name(str(iri)) or str(iri)
    parts = [f"<h1>{_esc(title)}</h1>", f'<p class="iri-line"><code>{_esc(iri)}</code>'
             + (f' <span class="iri">{_esc(short_name(str(iri)))}</span>' if short_name(str(iri)) else "") + "</p>"]
    types = by_predicate.get(RDF.type, [])
    if types:
        parts.append('<p class="types">' + " ".join(f'<span class="type">{_term_html(t, labels)}</span>' for t in types)
                     + "</p>")
    other_names = [v for p in _LABEL_PREDICATES for v in by_predicate.get(p, []) if str(v) != title]
    if other_names:
        parts.append('<p class="labels">Also: ' + "; ".join(_term_html(v, labels) for v in other_names) + "</p>")
    for predicate in _DEFINITION_PREDICATES:
        for text in by_predicate.get(predicate, []):
            parts.append(f'<p class="definition">{_esc(text)}</p>')
    parts.append(_claims_html(_claims(claims), labels))
    shown = {RDF.type, *_LABEL_PREDICATES, *_DEFINITION_PREDICATES}
    statements = [(p, values) for p, values in by_predicate.items() if p not in shown]
    if statements:
        rows = "".join(f"<tr><th>{_term_html(p, labels)}</th><td>"
                       + "<br>".join(_term_html(v, labels) for v in values) + "</td></tr>" for p, values in statements)
        parts.append(f'<section id="statements"><h2>Statements</h2><table class="properties">{rows}</table></section>')
    if incoming.rows:
        more = len(incoming.rows) > INCOMING_SHOWN
        rows = "".join(f"<tr><td>{_term_html(s, labels)}</td><td>{_term_html(p, labels)}</td></tr>"
                       for _, s, p in incoming.rows[:INCOMING_SHOWN])
        note = f"<p>The first {INCOMING_SHOWN} are shown.</p>" if more else ""
        parts.append(f'<section id="incoming"><h2>Mentioned by</h2><table class="properties">{rows}</table>{note}'
                     "</section>")
    return page(title, "\n".join(parts))


async def entity_page(request: Request) -> Response:
    service: QueryService = request.app.state.service
    try:
        iri = entity_iri(request.path_params["reference"])
    except BadInputError as error:
        raise HttpError(400, error.message, error.hint) from None
    bindings: dict[str, Identifier] = {"entity": iri}
    outgoing = (await service.run(OUTGOING, bindings)).result
    incoming = (await service.run(INCOMING, bindings)).result
    if not outgoing.rows and not incoming.rows:
        body = (f"<h1>Not in the graph</h1><p>The graph says nothing about <code>{_esc(iri)}</code>.</p>"
                '<p><a href="/">Back to the workbench</a></p>')
        return Response(page("Not in the graph", body), status_code=404, media_type="text/html")
    claims = (await service.run(CLAIMS, bindings)).result
    return Response(entity_html(iri, outgoing, incoming, claims), media_type="text/html")


# ---- the application -----------------------------------------------------------------------------------------

async def workbench(request: Request) -> Response:
    return FileResponse(WEB / "index.html", media_type="text/html")


def _errors_as_responses(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An HttpError becomes its status with a one-line message: HTML for pages, JSON for the API, text else."""
    async def handle(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except HttpError as error:
            if request.url.path.startswith("/api/"):
                response = JSONResponse({"error": error.message, "hint": error.hint}, status_code=error.status)
            elif request.url.path.startswith("/entity/"):
                body = f"<h1>Error</h1><p>{_esc(error.message)}</p>" + (
                    f"<p>{_esc(error.hint)}</p>" if error.hint else "")
                response = Response(page("Error", body), status_code=error.status, media_type="text/html")
            else:
                response = PlainTextResponse(error.text(), status_code=error.status)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.media_type == "text/html":
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return handle


def make_app(source: Project | Store | Graph, *, queries: Path | None = None, read_only: bool = True,
             timeout: float = DEFAULT_TIMEOUT, result_cap: int = DEFAULT_RESULT_CAP,
             allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The web application over a project's built graph (copied into memory), a Store or an rdflib graph.

    `queries` is the folder of saved queries (a project's own by default). With `read_only=False`, SPARQL
    Update changes the served store (for a project, the copy in memory: never the project's files).
    `allowed_hosts` are the only Host headers answered (a loopback server refuses other names, against
    DNS rebinding); None answers any."""
    if isinstance(source, Project):
        from .cache import built_store

        store = Store.in_memory()
        store.add_graph(built_store(source).to_graph())
        queries = queries if queries is not None else source.queries
    elif isinstance(source, Store):
        store = source
    else:
        store = Store.from_graph(source)
    service = QueryService(store, queries, read_only=read_only, timeout=timeout, result_cap=result_cap)
    routes = [
        Route("/", _errors_as_responses(workbench), methods=["GET"]),
        Route("/sparql", _errors_as_responses(sparql_endpoint), methods=["GET", "POST"]),
        Route("/api/queries", _errors_as_responses(api_queries), methods=["GET"]),
        Route("/api/run", _errors_as_responses(api_run), methods=["POST"]),
        Route("/entity/{reference:path}", _errors_as_responses(entity_page), methods=["GET"]),
        Mount("/web", StaticFiles(directory=WEB), name="web"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))] if allowed_hosts else []
    app = Starlette(routes=routes, middleware=middleware)
    app.state.service = service
    return app


# ---- serving ------------------------------------------------------------------------------------------------

def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise BadInputError(f"cannot listen on {host}:{port}: {error.strerror or error}",
                            hint="choose another --port, or stop what is using it") from None
    sock.listen(2048)
    return sock


def _server(app: Starlette) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                         timeout_keep_alive=5, backlog=2048))


def base_url(host: str, sock: socket.socket) -> str:
    """http://host:port of a listening socket (an IPv6 address in brackets)."""
    return f"http://{'[' + host + ']' if ':' in host else host}:{sock.getsockname()[1]}"


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def serve_forever(source: Project | Store, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                  queries: Path | None = None, read_only: bool = True, timeout: float = DEFAULT_TIMEOUT,
                  result_cap: int = DEFAULT_RESULT_CAP, announce: Callable[[str], None] = print) -> None:
    """Serve the graph on host:port until interrupted (Ctrl-C); `announce` is given the base URL once listening.

    The port is taken first, so that a port in use is reported before the graph is loaded."""
    sock = listening_socket(host, port)
    try:
        allowed = [host, *LOOPBACK_NAMES] if is_loopback(host) else None
        app = make_app(source, queries=queries, read_only=read_only, timeout=timeout, result_cap=result_cap,
                       allowed_hosts=allowed)
        announce(base_url(host, sock))
        _server(app).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(app: Starlette, host: str = DEFAULT_HOST) -> Iterator[str]:
    """Serve the app on a free port of `host` in a background thread; yields its base URL, then stops it."""
    sock = listening_socket(host, 0)
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kgtool-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        yield base_url(host, sock)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
