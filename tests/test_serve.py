"""`kgtool serve`: the SPARQL 1.1 Protocol endpoint, the workbench's API, entity pages, the time limit,
the result cap, read-only mode and 200 concurrent requests on loopback.

In process with Starlette's TestClient (no socket) over the session's build in an Oxigraph store;
answers are read back with rdflib's parsers and compared with kgtool's query layer on the same store.
The browser test is in test_serve_browser.py.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.query import Result
from starlette.applications import Starlette

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2 for its TestClient; httpx works the same here
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.namespaces import KG, KGR, RDFS
from kgtool.queries import list_saved_queries, run_saved_query, run_sparql
from kgtool.serve import SD, VOID, entity_path, make_app, running_server
from kgtool.store import Store

from .conftest import ROOT

DEPOSITS = "SELECT ?deposit ?label WHERE { ?deposit a kg:Deposit ; rdfs:label ?label } ORDER BY ?deposit ?label"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CONFLICTS = """SELECT ?subject ?claim ?quote WHERE {
  ?claim kg:conflictsWith ?other ; kg:claimSubject ?subject ; kg:hasEvidence/oa:hasSelector/oa:exact ?quote }
ORDER BY ?subject ?claim"""


@pytest.fixture(scope="module")
def store(built: BuildResult) -> Store:
    return Store.from_graph(built.graph)


@pytest.fixture(scope="module")
def app(store: Store, project: Project) -> Starlette:
    return make_app(store, queries=project.queries)


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def parsed_rows(data: bytes, result_format: str) -> list[tuple[str, ...]]:
    """The rows of a SPARQL results document, each term as text (the CSV format keeps no types)."""
    result = Result.parse(io.BytesIO(data), format=result_format)
    return [tuple("" if term is None else str(term) for term in row) for row in result]  # type: ignore[union-attr]


def expected_rows(store: Store, sparql: str) -> list[tuple[str, ...]]:
    return [tuple("" if t is None else str(t) for t in row) for row in run_sparql(store, sparql).rows]


# ---- the SPARQL protocol --------------------------------------------------------------------------------------

def test_service_description_without_a_query(client: TestClient, store: Store) -> None:
    response = client.get("/sparql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    description = Graph().parse(data=response.text, format="turtle")
    service = description.value(predicate=SD.endpoint, object=URIRef("http://testserver/sparql"))
    assert service is not None
    languages = set(description.objects(service, SD.supportedLanguage))
    assert languages == {SD.SPARQL11Query}  # read-only: no SPARQL11Update
    sizes = {int(o) for o in description.objects(None, VOID.triples)}  # type: ignore[call-overload]
    assert sizes == {len(store)}
    as_jsonld = client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert as_jsonld.headers["content-type"].startswith("application/ld+json")
    assert isomorphic(Graph().parse(data=as_jsonld.text, format="json-ld"), description)


@pytest.mark.parametrize("accept, media, parser", [
    ("application/sparql-results+json", "application/sparql-results+json", "json"),
    ("application/sparql-results+xml", "application/sparql-results+xml", "xml"),
    ("text/tab-separated-values", "text/tab-separated-values", "tsv"),
    ("text/csv", "text/csv", "csv"),
    (None, "application/sparql-results+json", "json"),
    ("text/html, application/xml;q=0.9, */*;q=0.1", "application/sparql-results+xml", "xml"),
])
def test_select_in_every_format_by_accept(client: TestClient, store: Store, accept: str | None, media: str,
                                          parser: str) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", params={"query": DEPOSITS}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media
    assert parsed_rows(response.content, parser) == expected_rows(store, DEPOSITS)
    assert response.headers["Kgtool-Result-Truncated"] == "false"


@pytest.mark.parametrize("given, parser", [("json", "json"), ("xml", "xml"), ("csv", "csv"), ("tsv", "tsv"),
                                          ("text/csv", "csv")])
def test_format_parameter_wins_over_accept(client: TestClient, store: Store, given: str, parser: str) -> None:
    response = client.get("/sparql", params={"query": DEPOSITS, "format": given}, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert parsed_rows(response.content, parser) == expected_rows(store, DEPOSITS)


def test_post_form_and_direct_body_give_the_same_answer(client: TestClient, store: Store) -> None:
    by_form = client.post("/sparql", data={"query": DEPOSITS})
    direct = client.post("/sparql", content=DEPOSITS.encode(), headers={"Content-Type": "application/sparql-query"})
    assert by_form.status_code == direct.status_code == 200
    assert parsed_rows(by_form.content, "json") == parsed_rows(direct.content, "json") == expected_rows(store, DEPOSITS)


def test_ask_as_json_and_csv(client: TestClient) -> None:
    ask = "ASK { kgr:solikamsk-magnesium-plant kg:controlledBy kgr:rosatom }"
    assert client.get("/sparql", params={"query": ask}).json()["boolean"] is True
    no = client.get("/sparql", params={"query": "ASK { kgr:rosatom kg:controlledBy kgr:russia-does-not-exist }"})
    assert no.json()["boolean"] is False
    assert client.get("/sparql", params={"query": ask, "format": "csv"}).text.split() == ["_askResult", "true"]


@pytest.mark.parametrize("accept, parser", [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
                                            (None, "turtle")])
def test_construct_as_turtle_and_jsonld(client: TestClient, store: Store, accept: str | None, parser: str) -> None:
    construct = "CONSTRUCT { ?d rdfs:label ?l } WHERE { ?d a kg:Deposit ; rdfs:label ?l }"
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", params={"query": construct}, headers=headers)
    assert response.status_code == 200, response.text
    expected = run_sparql(store, construct).graph
    assert expected is not None and len(expected) > 0
    assert isomorphic(Graph().parse(data=response.text, format=parser), expected)


def test_saved_queries_run_through_the_protocol(client: TestClient, store: Store, project: Project) -> None:
    """Every saved query without parameters gives over HTTP what the query layer gives."""
    plain = [q for q in list_saved_queries(project.queries) if not q.parameters]
    assert plain
    for saved in plain:
        response = client.post("/sparql", data={"query": saved.text}, headers={"Accept": "*/*"})
        assert response.status_code == 200, (saved.name, response.text)
        expected = run_sparql(store, saved.text)
        if expected.graph is not None:
            assert isomorphic(Graph().parse(data=response.text, format="turtle"), expected.graph), saved.name
        else:
            assert len(parsed_rows(response.content, "json")) == len(expected.rows), saved.name


@pytest.mark.parametrize("request_kwargs, status, message", [
    ({"method": "GET", "params": {"query": "SELECT ?x WHERE { ?x"}}, 400, "not valid SPARQL"),
    ({"method": "GET", "params": {"query": "  "}}, 400, "empty"),
    ({"method": "GET", "params": {"query": DEPOSITS}, "headers": {"Accept": "image/png"}}, 406, "accepted types"),
    ({"method": "GET", "params": {"query": DEPOSITS, "format": "turtle"}}, 400, "does not suit"),
    ({"method": "GET", "params": {"query": DEPOSITS, "default-graph-uri": "urn:x"}}, 400, "one default graph"),
    ({"method": "GET", "params": [("query", DEPOSITS), ("query", DEPOSITS)]}, 400, "one query"),
    ({"method": "POST", "content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "cannot read"),
    ({"method": "POST", "data": {"query": DEPOSITS, "update": "CLEAR ALL"}}, 400, "exactly one"),
])
def test_bad_requests_get_a_status_and_a_message(client: TestClient, request_kwargs: dict[str, object], status: int,
                                                 message: str) -> None:
    response = client.request(url="/sparql", **request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert message in response.text
    assert "Traceback" not in response.text


# ---- read-only, time limit, result cap ----------------------------------------------------------------------

@pytest.mark.parametrize("send", ["form", "body"])
def test_updates_are_refused_by_default(client: TestClient, store: Store, send: str) -> None:
    update = "INSERT DATA { kgr:x rdfs:label \"x\" }"
    before = len(store)
    if send == "form":
        response = client.post("/sparql", data={"update": update})
    else:
        response = client.post("/sparql", content=update.encode(), headers={"Content-Type": "application/sparql-update"})
    assert response.status_code == 403
    assert "read-only" in response.text
    assert len(store) == before
    assert client.get("/sparql", params={"update": update}).status_code == 400  # never by GET


def test_updates_change_the_served_store_when_allowed(built: BuildResult) -> None:
    store = Store.from_graph(built.graph)
    with TestClient(make_app(store, read_only=False)) as writable:
        description = Graph().parse(data=writable.get("/sparql").text, format="turtle")
        assert SD.SPARQL11Update in set(description.objects(None, SD.supportedLanguage))
        ask = {"query": "ASK { kgr:new-entity rdfs:label \"New\" }"}
        assert writable.get("/sparql", params=ask).json()["boolean"] is False
        response = writable.post("/sparql", data={"update": "INSERT DATA { kgr:new-entity rdfs:label \"New\" }"})
        assert response.status_code == 200, response.text
        assert writable.get("/sparql", params=ask).json()["boolean"] is True
        bad = writable.post("/sparql", data={"update": "INSERT DATA { nonsense"})
        assert bad.status_code == 400
    assert len(store) == len(built.graph) + 1


def test_updates_from_another_site_are_refused(built: BuildResult) -> None:
    """A web page elsewhere cannot post an update to a writable server on this machine (the browser sends
    its Origin); a program (no Origin) or the server's own pages can."""
    store = Store.from_graph(built.graph)
    update = {"update": "INSERT DATA { kgr:x rdfs:label \"x\" }"}
    with TestClient(make_app(store, read_only=False)) as writable:
        refused = writable.post("/sparql", data=update, headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403 and "another site" in refused.text
        assert len(store) == len(built.graph)
        assert writable.post("/sparql", data=update, headers={"Origin": "http://testserver"}).status_code == 200
    assert len(store) == len(built.graph) + 1


@pytest.mark.parametrize("update", [
    "LOAD <http://127.0.0.1:9/data.ttl>",
    "INSERT { ?s ?p ?o } WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "# LOAD in a comment is fine\nINSERT DATA { kgr:x rdfs:label \"LOAD SERVICE\" } ;\n load <http://127.0.0.1:9/x>",
])
def test_a_writable_server_fetches_nothing(built: BuildResult, update: str) -> None:
    store = Store.from_graph(built.graph)
    with TestClient(make_app(store, read_only=False)) as writable:
        refused = writable.post("/sparql", data={"update": update})
        assert refused.status_code == 403 and "fetches nothing" in refused.text
        harmless = writable.post("/sparql", data={"update": 'INSERT DATA { kgr:x rdfs:label "LOAD and SERVICE" }'})
        assert harmless.status_code == 200
    assert len(store) == len(built.graph) + 1


def test_a_loopback_server_answers_loopback_host_names_only(store: Store) -> None:
    """Against DNS rebinding: a page on another name that resolves to 127.0.0.1 gets no answer."""
    app = make_app(store, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://rebound.example:8000") as other:
        assert other.get("/sparql", params={"query": DEPOSITS}).status_code == 400
    with TestClient(app, base_url="http://localhost:8000") as local:
        assert local.get("/sparql", params={"query": DEPOSITS}).status_code == 200


def test_pages_forbid_other_origins_by_content_security_policy(client: TestClient) -> None:
    for path in ("/", "/entity/kgr:russia", "/entity/kgr:no-such-entity"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
    assert client.get("/sparql", params={"query": DEPOSITS}).headers["X-Content-Type-Options"] == "nosniff"


def test_a_runaway_query_is_stopped_and_the_client_told(store: Store) -> None:
    with TestClient(make_app(store, timeout=1)) as limited:
        response = limited.get("/sparql", params={"query": RUNAWAY})
        assert response.status_code == 503
        assert "no answer within 1 s" in response.text and "time limit" in response.text
        api = limited.post("/api/run", json={"query": RUNAWAY})
        assert api.status_code == 503
        assert "time limit" in api.json()["error"]
        assert limited.get("/sparql", params={"query": DEPOSITS}).status_code == 200  # still serving


def test_the_result_cap_cuts_answers_and_says_so(store: Store) -> None:
    everything = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
    with TestClient(make_app(store, result_cap=7)) as capped:
        response = capped.get("/sparql", params={"query": everything})
        assert response.headers["Kgtool-Result-Cap"] == "7"
        assert response.headers["Kgtool-Result-Truncated"] == "true"
        document = response.json()
        assert len(document["results"]["bindings"]) == 7
        assert document["kgtool"]["truncated"] is True and "7 rows" in document["kgtool"]["message"]
        as_csv = capped.get("/sparql", params={"query": everything, "format": "csv"})
        assert as_csv.headers["Kgtool-Result-Truncated"] == "true"
        assert len(list(csv.reader(io.StringIO(as_csv.text)))) == 1 + 7
        graph = capped.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
        assert graph.headers["Kgtool-Result-Truncated"] == "true"
        assert len(Graph().parse(data=graph.text, format="turtle")) == 7
        small = capped.get("/sparql", params={"query": "SELECT ?s WHERE { ?s a kg:StateCorporation }"})
        assert small.headers["Kgtool-Result-Truncated"] == "false" and "kgtool" not in small.json()
        api = capped.post("/api/run", json={"query": everything}).json()
        assert api["truncated"] is True and len(api["rows"]) == 7 and api["warnings"]


# ---- the workbench's API --------------------------------------------------------------------------------------

def test_api_lists_the_saved_queries_with_their_parameters(client: TestClient, project: Project) -> None:
    listed = client.get("/api/queries").json()
    saved = list_saved_queries(project.queries)
    assert [q["name"] for q in listed] == [q.name for q in saved]
    for entry, query in zip(listed, saved):
        assert entry["title"] == query.title and entry["text"] == query.text
        assert [(p["name"], p["type"], p["default"]) for p in entry["parameters"]] == \
            [(p.name, p.type, p.default) for p in query.parameters]


def test_api_runs_saved_queries_with_labels_and_links(client: TestClient, store: Store, project: Project) -> None:
    for saved in list_saved_queries(project.queries):
        answer = client.post("/api/run", json={"name": saved.name, "params": {}})
        assert answer.status_code == 200, (saved.name, answer.text)
        expected = run_saved_query(store, saved, {})
        body = answer.json()
        if expected.graph is not None:
            assert isomorphic(Graph().parse(data=body["turtle"], format="turtle"), expected.graph)
            continue
        assert body["variables"] == list(expected.variables)
        assert [[c and c["value"] for c in row] for row in body["rows"]] == \
            [[t and str(t) for t in row] for row in expected.rows]
        for row, expected_row in zip(body["rows"], expected.rows):
            for cell, term in zip(row, expected_row):
                if isinstance(term, URIRef):
                    assert cell["href"] == entity_path(str(term))
                    assert cell.get("label") == expected.labels.get(term)


def test_api_binds_parameters_as_terms(client: TestClient, store: Store, project: Project) -> None:
    saved = next(q for q in list_saved_queries(project.queries) if q.name == "reserve-figures")
    by_label = client.post("/api/run", json={"name": "reserve-figures", "params": {"subject": "Russia"}}).json()
    expected = run_saved_query(store, saved, {"subject": "kgr:russia"})
    assert len(by_label["rows"]) == len(expected.rows) > 0
    injected = client.post("/api/run", json={"name": "reserve-figures",
                                             "params": {"subject": "Russia } UNION { ?s ?p ?o"}})
    assert injected.status_code == 400
    assert "no entity is labelled" in injected.json()["error"]
    unknown = client.post("/api/run", json={"name": "reserve-figures", "params": {"nope": "x"}})
    assert unknown.status_code == 400 and "no parameter nope" in unknown.json()["error"]
    assert client.post("/api/run", json={"name": "no-such-query"}).status_code == 404


def test_api_runs_query_text_with_a_param_header(client: TestClient) -> None:
    text = "# title: by label\n# param: name string Russia a label\nSELECT ?e WHERE { ?e rdfs:label ?l FILTER (STR(?l) = ?name) }"
    russia = client.post("/api/run", json={"query": text, "params": {}}).json()
    assert [row[0]["value"] for row in russia["rows"]] == [str(KGR.russia)]
    china = client.post("/api/run", json={"query": text, "params": {"name": "China"}}).json()
    assert [row[0]["value"] for row in china["rows"]] == [str(KGR.china)]
    for body in ({"query": text, "name": "roadmap"}, {"params": {}}, [1, 2]):
        assert client.post("/api/run", json=body).status_code == 400


# ---- entity pages -------------------------------------------------------------------------------------------------

class _Links(HTMLParser):
    """Every src and href of a page, and the text of its elements of one class."""

    def __init__(self, wanted_class: str = "") -> None:
        super().__init__()
        self.references: list[str] = []
        self.wanted_class = wanted_class
        self.texts: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.references += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if self._depth:
            self._depth += 1
        elif self.wanted_class and self.wanted_class in (values.get("class") or "").split():
            self._depth = 1
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.texts[-1] += data


def test_entity_page_shows_claims_quotes_and_conflicts(client: TestClient, store: Store) -> None:
    conflicting = run_sparql(store, CONFLICTS).rows
    assert conflicting, "the shipped graph has conflicting claims"
    subject = conflicting[0][0]
    assert isinstance(subject, URIRef)
    response = client.get(entity_path(str(subject)))
    assert response.status_code == 200
    label = run_sparql(store, "SELECT ?l WHERE { ?e rdfs:label ?l }", {"e": subject}).rows[0][0]
    assert f"<h1>{label}</h1>" in response.text
    quotes = _Links("quote")
    quotes.feed(response.text)
    for _, claim, quote_text in (row for row in conflicting if row[0] == subject):
        assert str(quote_text) in quotes.texts
    rows = _Links("conflict")
    rows.feed(response.text)
    conflicting_claims = {str(claim) for s, claim, _ in conflicting if s == subject}
    assert len(rows.texts) == len(conflicting_claims)
    claims_about = run_sparql(store, "SELECT DISTINCT ?c WHERE { ?c kg:claimSubject|kg:claimObject|kg:commodity|"
                                     "kg:attributedTo ?e }", {"e": subject}).rows
    assert f"Claims ({len(claims_about)}, {len(conflicting_claims)} in conflict)" in response.text


def test_entity_page_of_a_claim_shows_its_quote_and_source(client: TestClient, store: Store) -> None:
    _, claim, quote_text = run_sparql(store, CONFLICTS).rows[0]
    page = client.get(entity_path(str(claim))).text
    quotes = _Links("quote")
    quotes.feed(page)
    assert quotes.texts == [str(quote_text)]
    doc_id = run_sparql(store, "SELECT ?id WHERE { ?c prov:wasDerivedFrom/kg:documentId ?id }", {"c": claim}).rows[0][0]
    assert f"document {doc_id}" in page
    assert 'class="claim conflict"' in page


def test_entity_pages_by_prefixed_name_or_full_iri(client: TestClient) -> None:
    by_name = client.get("/entity/kgr:russia")
    by_iri = client.get("/entity/" + quote(str(KGR.russia), safe=""))
    assert by_name.status_code == by_iri.status_code == 200
    assert by_name.text == by_iri.text
    assert entity_path(str(KG.Deposit)) == "/entity/kg:Deposit"
    assert client.get(entity_path(str(KG.Deposit))).status_code == 200
    assert entity_path("urn:x:y z") == "/entity/urn%3Ax%3Ay%20z"


@pytest.mark.parametrize("path, status", [("/entity/kgr:no-such-entity", 404), ("/entity/not an iri", 400),
                                          ("/entity/kgr:" + quote("a>b", safe=""), 400)])
def test_entity_page_errors(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")


def test_entity_values_are_escaped(built: BuildResult) -> None:
    graph = Graph()
    for triple in built.graph:
        graph.add(triple)
    graph.add((KGR.russia, RDFS.comment, Literal("<script>alert(1)</script>")))
    with TestClient(make_app(Store.from_graph(graph))) as escaped:
        page = escaped.get("/entity/kgr:russia").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---- offline assets ---------------------------------------------------------------------------------------------

def test_pages_reference_no_other_host(client: TestClient) -> None:
    """The workbench works offline: nothing it loads or links to is on another host."""
    pages = ["/", "/entity/kgr:russia", "/entity/kg:Deposit"]
    assets: set[str] = set()
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200
        links = _Links()
        links.feed(response.text)
        assert links.references
        for reference in links.references:
            assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", reference, re.IGNORECASE), (path, reference)
            if reference.startswith("/web/"):
                assets.add(reference)
    assert {"/web/workbench.js", "/web/workbench.css", "/web/favicon.svg"} <= assets
    for asset in assets:
        text = re.sub(r'xmlns(?::\w+)?="[^"]*"', "", client.get(asset).text)  # a namespace name is no reference
        assert not re.search(r"https?://", text), asset
        assert "@import" not in text and "url(" not in text


def test_web_assets_are_package_data() -> None:
    """Every file under kgtool/web/ is matched by pyproject's package-data, so an install ships it."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["kgtool"]
    web = ROOT / "kgtool" / "web"
    files = [p.relative_to(ROOT / "kgtool").as_posix() for p in web.rglob("*") if p.is_file()]
    assert "web/index.html" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


# ---- a real server on loopback ----------------------------------------------------------------------------------

def test_200_concurrent_requests_all_succeed(app: Starlette, store: Store, project: Project) -> None:
    """A real uvicorn server on a free loopback port, 200 requests at once (a mix of saved queries)."""
    saved = [q for q in list_saved_queries(project.queries) if run_saved_query(store, q, {}).graph is None]
    expected = {q.name: len(run_saved_query(store, q, {}).rows) for q in saved}

    async def fire(url: str) -> list[tuple[str, int, int | None]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
            async def one(index: int) -> tuple[str, int, int | None]:
                query = saved[index % len(saved)]
                if query.parameters or index % 3 == 0:
                    response = await http.post("/api/run", json={"name": query.name})
                    rows = len(response.json()["rows"]) if response.status_code == 200 else None
                else:
                    response = await http.get("/sparql", params={"query": query.text})
                    rows = len(response.json()["results"]["bindings"]) if response.status_code == 200 else None
                return query.name, response.status_code, rows

            return await asyncio.gather(*(one(i) for i in range(200)))

    with running_server(app) as url:
        assert url.startswith("http://127.0.0.1:")
        outcomes = asyncio.run(fire(url))
    assert len(outcomes) == 200
    failures = [o for o in outcomes if o[1] != 200 or o[2] != expected[o[0]]]
    assert not failures, failures[:5]


# ---- the command ----------------------------------------------------------------------------------------------------

def test_serve_command_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 3
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_command_help_names_the_defaults() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for text in ("127.0.0.1", "--timeout", "--result-cap", "--allow-updates", "Example:"):
        assert text in result.output


def test_json_results_keep_to_the_standard_when_not_cut(client: TestClient) -> None:
    document = client.get("/sparql", params={"query": DEPOSITS}).json()
    assert set(document) == {"head", "results"}
    assert json.loads(json.dumps(document))["head"]["vars"] == ["deposit", "label"]


def test_static_files_cannot_escape_the_web_folder(client: TestClient) -> None:
    assert client.get("/web/../serve.py").status_code == 404
    assert client.get("/web/%2e%2e/serve.py").status_code == 404
