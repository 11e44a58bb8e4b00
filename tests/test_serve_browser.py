"""The workbench in a real headless browser (Debian's chromium driven by Playwright): load the page, run a
saved query with a parameter typed into its field, see the expected rows with labels and links, open an
entity page from a result and see its evidence quote; no request leaves the server's own origin.

Screenshots go to tests/artifacts/ (git-ignored). The server is a real uvicorn on a free loopback port in
a thread, stopped at the end. Without chromium this fails under CI=true and skips elsewhere.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import URIRef
from starlette.applications import Starlette

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.queries import find_saved_query, list_saved_queries, run_saved_query
from kgtool.serve import entity_path, make_app, running_server
from kgtool.store import Store

from .conftest import ROOT, missing

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright", "pip install -e '.[test]' (scripts/setup.sh does)")
    from .browser import find_chromium

    found = find_chromium()
    if found is None:
        missing("chromium", "scripts/setup.sh installs Debian's chromium")
    return found


@pytest.fixture(scope="module")
def store(built: BuildResult) -> Store:
    return Store.from_graph(built.graph)


@pytest.fixture(scope="module")
def server(store: Store, project: Project) -> Iterator[str]:
    app: Starlette = make_app(store, queries=project.queries)
    with running_server(app) as url:
        yield url


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_workbench_runs_a_saved_query_and_links_to_the_evidence(chromium: str, server: str, store: Store,
                                                                 project: Project) -> None:
    from .browser import browser_page

    saved = find_saved_query(project.queries, "reserve-figures")
    expected = run_saved_query(store, saved, {"subject": "Russia"})
    assert expected.rows, "the shipped graph has reserve figures for Russia"
    column = {name: i for i, name in enumerate(expected.variables)}
    first = expected.rows[0]
    claim, quote = first[column["claim"]], first[column["quote"]]
    assert isinstance(claim, URIRef) and quote is not None

    requests: list[str] = []
    problems: list[str] = []
    with browser_page(chromium) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

        page.goto(server + "/")
        page.wait_for_selector("#tabs [role=tab]")
        tabs = page.locator("#tabs [role=tab]")
        assert tabs.count() == len(list_saved_queries(project.queries)) + 1  # the saved queries and "your query"

        page.click("#tabs [data-query=reserve-figures]")
        panel = page.locator("#panel-reserve-figures")
        assert panel.is_visible()
        for parameter in saved.parameters:  # each parameter is a form field holding its default
            assert panel.locator(f"input[name={parameter.name}]").input_value() == parameter.default
        panel.locator("input[name=subject]").fill("Russia")  # an entity's label, bound as its IRI
        panel.locator("button.run").click()
        panel.locator("table.results tbody tr").first.wait_for()
        rows = panel.locator("table.results tbody tr")
        assert rows.count() == len(expected.rows)
        headers = panel.locator("table.results thead th").all_inner_texts()
        assert headers == list(expected.variables)
        subject_cell = rows.nth(0).locator("td").nth(column["subject"])
        assert expected.labels[first[column["subject"]]] in subject_cell.inner_text()  # labels beside IRIs
        page.screenshot(path=str(screenshot_path("workbench-reserve-figures")))

        link = rows.nth(0).locator("td").nth(column["claim"]).locator("a")
        assert link.get_attribute("href") == entity_path(str(claim))
        link.click()
        page.wait_for_url(server + entity_path(str(claim)))
        shown_quote = page.locator("blockquote.quote").first
        shown_quote.wait_for()
        assert shown_quote.inner_text().strip() == str(quote)
        page.screenshot(path=str(screenshot_path("entity-claim")), full_page=True)

        page.goto(server + "/#conflicting-claims")
        conflicts = page.locator("#panel-conflicting-claims")
        conflicts.locator("button.run").click()
        conflicts.locator("table.results tbody tr").first.wait_for()
        assert conflicts.locator("table.results tbody tr").count() == \
            len(run_saved_query(store, find_saved_query(project.queries, "conflicting-claims")).rows)

        page.goto(server + "/entity/kgr:russia")
        assert page.locator("tr.claim.conflict").count() > 0  # conflicting claims are highlighted
        page.screenshot(path=str(screenshot_path("entity-russia")))

    assert not problems, problems
    assert requests and all(url.startswith(server + "/") for url in requests), \
        [url for url in requests if not url.startswith(server + "/")]
    for name in ("workbench-reserve-figures", "entity-claim", "entity-russia"):
        assert screenshot_path(name).stat().st_size > 10_000


def test_a_query_error_is_shown_in_the_page(chromium: str, server: str) -> None:
    from .browser import browser_page

    with browser_page(chromium) as page:
        page.goto(server + "/#adhoc")
        panel = page.locator("#panel-adhoc")
        panel.locator("textarea.sparql").fill("SELECT ?x WHERE { ?x")
        panel.locator("button.run").click()
        alert = panel.locator("[role=alert]")
        alert.wait_for()
        assert "Error 400" in alert.inner_text() and "not valid SPARQL" in alert.inner_text()
