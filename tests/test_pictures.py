"""Pictures: the control network and saved CONSTRUCT answers through Graphviz, the chart of quantitative
claims through matplotlib; the saved CONSTRUCT query control-network; the README's pictures."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef
from rdflib.compare import graph_diff, isomorphic

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.errors import BadInputError, ExternalComponentError
from kgtool.namespaces import KG, KGR, KGV, ORG, PROV, RDF, RDFS
from kgtool.pictures import (
    ImageFormat,
    Line,
    control_network,
    dot_string,
    draw_chart,
    draw_construct,
    draw_network,
    graph_dot,
    measure_claims,
    network_dot,
    read_legend,
    render_dot,
)
from kgtool.queries import find_saved_query, run_saved_query
from kgtool.store import Engine, Store

from .conftest import ROOT, missing

QUERIES = ROOT / "queries"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture()
def require_dot() -> None:
    if shutil.which("dot") is None:
        missing("Graphviz", "scripts/setup.sh installs graphviz")


@pytest.fixture(scope="module")
def store(built: BuildResult) -> Store:
    return Store.from_graph(built.graph)


def svg_text(data: bytes) -> list[str]:
    """The text a person sees in an SVG: every <text> element (Graphviz) and every text drawn as paths,
    which matplotlib names in a comment before it, in document order."""
    root = ElementTree.fromstring(data)
    texts = ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]
    return texts + [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", data.decode("utf-8"), re.S)]


def in_two_processes(code: str) -> list[bytes]:
    """What a snippet printing bytes gives in two fresh processes with different hash seeds."""
    outputs = []
    for seed in ("1", "4242"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT)
        outputs.append(done.stdout)
    return outputs


# ---- the control network ------------------------------------------------------------------------------

def test_control_network_follows_the_relation_claims(store: Store, built: BuildResult) -> None:
    network = control_network(store)
    arrows = {(e.source, e.target, e.reading, e.since, e.until, e.line, e.sources) for e in network.edges}
    # 000: "transferred to the state corporation Rosatom in 2023", "taken over from its previous owners in 2022"
    assert (KGR.rosatom, KGR["solikamsk-magnesium-plant"], "controls", "2023", None, Line.CURRENT, ("000",)) in arrows
    assert (KGR["smp-previous-owners"], KGR["solikamsk-magnesium-plant"], "controls", None, "2022", Line.ENDED,
            ("000",)) in arrows
    # 002: Intergeo's Ak-Sugsky licence revoked in 2024 and given to Rostec's Promising Mining Projects JSC
    assert (KGR.intergeo, KGR["ak-sugsky"], "holds licence for", None, "2024", Line.ENDED, ("002",)) in arrows
    assert (KGR["promising-mining-projects"], KGR["ak-sugsky"], "holds licence for", "2024", None, Line.CURRENT,
            ("002",)) in arrows
    # states -> state corporations -> subsidiaries: from the part-of claims, drawn from the whole
    assert (KGR.rostec, KGR["promising-mining-projects"], "has sub-organization", None, None, Line.CURRENT,
            ("002",)) in arrows
    assert (KGR.russia, KGR.rosatom, "jurisdiction over", None, None, Line.CURRENT, ("000",)) in arrows
    assert (KGR.russia, KGR.rostec, "jurisdiction over", None, None, Line.CURRENT, ("background",)) in arrows
    # developing a deposit is drawn, but as activity, not control
    assert (KGR["first-mining-company"], KGR.pavlovsky, "develops", None, None, Line.ACTIVITY, ("002",)) in arrows
    # every control claim in the graph is an arrow, and nothing else is (jurisdiction only for members)
    control = {KG.controls, KG.controlledBy, KG.owns, KG.holdsLicenceFor, ORG.subOrganizationOf, KG.develops,
               KG.operates}
    stated = {(s, o) if p not in (KG.controlledBy, ORG.subOrganizationOf) else (o, s)
              for claim in built.graph.subjects(RDF.type, KG.RelationClaim)
              for p in built.graph.objects(claim, KG.claimProperty) if p in control
              for s in built.graph.objects(claim, KG.claimSubject) for o in built.graph.objects(claim, KG.claimObject)}
    drawn = {(e.source, e.target) for e in network.edges if e.reading != "jurisdiction over"}
    assert drawn == stated
    members = {node for pair in stated for node in pair}
    assert {e.target for e in network.edges if e.reading == "jurisdiction over"} <= members
    assert str(KGR.china) not in {str(n) for n in network.nodes}  # NFC is no part of any control claim
    assert network.nodes[KGR.rosatom].kind == "state corporation"
    assert network.nodes[KGR.russia].kind == "state"
    assert network.nodes[KGR["ak-sugsky"]].kind == "deposit"


def test_network_dot_has_the_dates_and_sources_on_the_arrows(store: Store) -> None:
    dot = network_dot(control_network(store))
    assert dot.startswith("digraph kgtool {") and dot.endswith("}\n")
    assert '"holds licence for\\nsince 2024\\n[002]"' in dot
    assert '"controls\\nuntil 2022\\n[000]"' in dot and "style=dashed" in dot
    assert re.search(r'label="Rosatom\\n\(state corporation\)"', dot)


def test_the_same_graph_gives_the_same_bytes_in_another_process(require_dot: None) -> None:
    code = ("import sys; from pathlib import Path; from kgtool.build import build; from kgtool.config import Project;"
            "from kgtool.pictures import ImageFormat, draw_network, draw_chart;"
            "g = build(Project(Path('.'))).graph;"
            "sys.stdout.buffer.write(draw_network(g, ImageFormat.SVG).data + draw_network(g, ImageFormat.PNG).data"
            " + draw_chart(g, subject='kgr:russia', measure='kgv:reserves', commodity=None,"
            " image_format=ImageFormat.SVG).data)")
    first, second = in_two_processes(code)
    assert first == second and len(first) > 10_000


def test_svg_and_png_through_graphviz(require_dot: None, store: Store) -> None:
    svg = draw_network(store, ImageFormat.SVG)
    text = svg_text(svg.data)
    for shown in ("Rosatom", "(state corporation)", "Promising Mining Projects", "since 2024", "until 2022",
                  "[background]", "Tomtorskoye deposit"):
        assert any(shown in line for line in text), shown
    assert b"Date" not in svg.data and svg.data == draw_network(store, ImageFormat.SVG).data
    png = draw_network(store, ImageFormat.PNG)
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png.data[16:20], "big"), int.from_bytes(png.data[20:24], "big")
    assert width >= 1200 and height >= 600, "big enough to read the arrow labels"


def test_hostile_labels_are_text_in_dot_and_svg(require_dot: None) -> None:
    hostile = ['say "hi" \\N \\G \\l <b>&amp;', "} ; digraph x { a -> b }", "back\\slash\\", "<svg onload=1>"]
    graph = Graph()
    for i, label in enumerate(hostile):
        graph.add((URIRef(f"https://example.org/n{i}"), RDFS.label, Literal(label)))
        graph.add((URIRef(f"https://example.org/n{i}"), URIRef("https://example.org/p"),
                   URIRef(f"https://example.org/n{(i + 1) % len(hostile)}")))
    dot = graph_dot(graph, read_legend(graph), title='a "title" \\N')
    svg = render_dot(dot, ImageFormat.SVG)
    text = svg_text(svg)
    for label in hostile:
        assert label in text, label
    assert 'a "title" \\N' in text
    assert dot_string('a"b\\c\nd&') == '"a\\"b\\\\c\\nd&amp;"'


def test_missing_graphviz_is_an_external_component_error(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    monkeypatch.setattr("kgtool.pictures.shutil.which", lambda name: None)
    with pytest.raises(ExternalComponentError, match="Graphviz") as caught:
        draw_network(store, ImageFormat.SVG)
    assert caught.value.exit_code == 4
    assert draw_network(store, ImageFormat.DOT).data.startswith(b"digraph")  # DOT needs no Graphviz


# ---- the saved CONSTRUCT query ------------------------------------------------------------------------

def test_control_network_query_header_and_answer(built: BuildResult) -> None:
    saved = find_saved_query(QUERIES, "control-network")
    text = (QUERIES / "control-network.rq").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert text.splitlines()[len(header)] == "" and header[0].startswith("# title: ")
    assert saved.title and saved.description and saved.examples[0] == "kgtool query control-network"
    assert not re.search(r"^\s*FROM\b", text, re.M | re.I)
    answer = run_saved_query(built.graph, saved).graph
    assert answer is not None
    # current relations only, turned to read from the one in control
    assert (KGR.rosatom, KG.controls, KGR["solikamsk-magnesium-plant"]) in answer
    assert (KGR["promising-mining-projects"], KG.holdsLicenceFor, KGR["ak-sugsky"]) in answer
    assert (KGR.intergeo, KG.holdsLicenceFor, KGR["ak-sugsky"]) not in answer  # ended in 2024
    assert (KGR["smp-previous-owners"], KG.controls, KGR["solikamsk-magnesium-plant"]) not in answer
    assert not list(answer.triples((None, KG.controlledBy, None)))
    assert (KGR["rosatom-nedra"], ORG.subOrganizationOf, KGR.rosatom) in answer
    assert (KGR.rosatom, KG.jurisdiction, KGR.russia) in answer
    assert (KGR.rosatom, RDF.type, KG.StateCorporation) in answer
    assert not list(answer.triples((None, PROV.wasDerivedFrom, None)))


def test_control_network_query_is_the_same_on_both_engines(built: BuildResult) -> None:
    saved = find_saved_query(QUERIES, "control-network")
    ours = run_saved_query(built.graph, saved, engine=Engine.RDFLIB).graph
    theirs = run_saved_query(built.graph, saved, engine=Engine.OXIGRAPH).graph
    assert ours is not None and theirs is not None and len(ours) > 20
    if not isomorphic(ours, theirs):
        _, only_rdflib, only_oxigraph = graph_diff(ours, theirs)
        raise AssertionError(f"rdflib only {sorted(only_rdflib)[:5]}; Oxigraph only {sorted(only_oxigraph)[:5]}")


def test_a_construct_answer_is_drawn_with_its_labels(store: Store, require_dot: None) -> None:
    picture = draw_construct(store, find_saved_query(QUERIES, "control-network"), {}, ImageFormat.SVG)
    text = svg_text(picture.data)
    assert "Rosatom" in text and "Promising Mining Projects JSC" in " ".join(text)
    assert "holds licence for" in text
    with pytest.raises(BadInputError, match="SELECT query"):
        draw_construct(store, find_saved_query(QUERIES, "reserve-figures"), {}, ImageFormat.SVG)


# ---- the chart ------------------------------------------------------------------------------------------

def test_measure_claims_are_every_claim_with_its_conflicts(store: Store, built: BuildResult) -> None:
    data = measure_claims(store, KGR.russia, KGV.reserves)
    g = built.graph
    expected = {c for c in g.subjects(KG.measure, KGV.reserves) if (c, KG.claimSubject, KGR.russia) in g}
    assert {c.claim for c in data.claims} == expected and len(expected) == 5
    for claim in data.claims:
        assert claim.value == Decimal(str(g.value(claim.claim, KG.value)))
        assert claim.unit == str(g.value(g.value(claim.claim, KG.unit), RDFS.label))
        others = set(g.objects(claim.claim, KG.conflictsWith))
        assert bool(claim.conflicts_with) == bool(others)
        assert set(claim.conflicts_with) == {str(g.value(g.value(o, PROV.wasDerivedFrom), KG.documentId))
                                             for o in others}
    # 001's 28.7 million tonnes and 003's 28.5 million tons, both from the ministry, conflict
    by_source = {(c.source, c.commodity): c for c in data.claims}
    assert by_source[("001", "rare-earth metals")].conflicts_with == ("003",)
    assert by_source[("002", "rare-earth metals")].conflicts_with == ()
    assert by_source[("001", "rare-earth metals")].stated == "\u201c28.7 million tonnes\u201d"
    only = measure_claims(store, KGR.russia, KGV.reserves, KGR["rare-metals"])
    assert {c.source for c in only.claims} == {"001", "003"}


def test_chart_svg_marks_the_conflicts(store: Store) -> None:
    picture = draw_chart(store, subject="Russia", measure="reserves", commodity=None, image_format=ImageFormat.SVG)
    assert picture.summary == "5 claims, 2 in conflict"
    root = ElementTree.fromstring(picture.data)
    assert root.tag == f"{SVG}svg"
    assert b"<dc:date>" not in picture.data and picture.data == draw_chart(
        store, subject="kgr:russia", measure="kgv:reserves", commodity=None, image_format=ImageFormat.SVG).data
    assert b"#c0392b" in picture.data  # the conflict colour, on the two conflicting bars
    text = svg_text(picture.data)
    assert "conflicts with 003" in text and "conflicts with 001" in text
    assert "002 · Rosnedra · as of 2024" in text and "tonne" in text
    png = draw_chart(store, subject="kgr:russia", measure="kgv:reserves", commodity="kgr:rare-earth-metals",
                     image_format=ImageFormat.PNG)
    assert png.data.startswith(b"\x89PNG") and png.summary == "3 claims, 2 in conflict"


def test_chart_of_nothing_is_bad_input_naming_what_there_is(store: Store) -> None:
    with pytest.raises(BadInputError, match="no quantitative claim") as caught:
        draw_chart(store, subject="kgr:china", measure="kgv:reserves", commodity=None, image_format=ImageFormat.SVG)
    assert caught.value.hint is not None and "kgv:production-share" in caught.value.hint
    with pytest.raises(BadInputError, match="no entity is labelled"):
        draw_chart(store, subject="Atlantis", measure="reserves", commodity=None, image_format=ImageFormat.SVG)


# ---- the command line ------------------------------------------------------------------------------------

@pytest.fixture()
def fast_build(monkeypatch: pytest.MonkeyPatch, built: BuildResult) -> None:
    monkeypatch.setattr("kgtool.build.build", lambda project: built)


def test_cli_graph_and_chart_write_files(tmp_path: Path, fast_build: None, require_dot: None) -> None:
    runner = CliRunner()
    svg, png, chart = tmp_path / "net.svg", tmp_path / "net.png", tmp_path / "chart.png"
    result = runner.invoke(main, ["graph", "--output", str(svg)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"drew \d+ entities, \d+ arrows -> {re.escape(str(svg))}\n", result.stdout)
    assert "Rosatom" in svg_text(svg.read_bytes())
    assert runner.invoke(main, ["graph", "-o", str(png)]).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    result = runner.invoke(main, ["chart", "--subject", "kgr:russia", "--measure", "kgv:reserves", "-o", str(chart)])
    assert result.exit_code == 0 and "2 in conflict" in result.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")
    dot = runner.invoke(main, ["graph", "--query", "control-network", "--format", "dot"])
    assert dot.exit_code == 0 and dot.stdout.startswith("digraph kgtool {")


@pytest.mark.parametrize("args, code, message", [
    (["graph", "--output", "net.jpg"], 3, "cannot tell the picture format"),
    (["graph", "--query", "reserve-figures", "--format", "dot"], 3, "only a CONSTRUCT"),
    (["graph", "--query", "no-such-query"], 3, "unknown saved query"),
    (["graph", "--param", "a=b"], 2, "--param needs --query"),
    (["chart", "--measure", "kgv:no-such-measure"], 3, "no quantitative claim"),
    (["chart", "--format", "dot"], 2, "Invalid value"),
    (["chart", "--output", "chart.dot"], 3, "name the file .svg, .png, or give --format"),
    (["chart", "--output", "chart.jpg"], 3, "name the file .svg, .png, or give --format"),
])
def test_cli_errors_are_one_line(fast_build: None, args: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_without_graphviz_exits_4(monkeypatch: pytest.MonkeyPatch, fast_build: None, tmp_path: Path) -> None:
    monkeypatch.setattr("kgtool.pictures.shutil.which", lambda name: None)
    result = CliRunner().invoke(main, ["graph", "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 4 and "Graphviz" in result.stderr and not (tmp_path / "x.svg").exists()


# ---- the README's pictures ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, draw", [
    ("control-network.svg", lambda g: draw_network(g, ImageFormat.SVG)),
    ("reserves-russia.svg", lambda g: draw_chart(g, subject="kgr:russia", measure="kgv:reserves", commodity=None,
                                                 image_format=ImageFormat.SVG)),
])
def test_readme_pictures_show_the_shipped_graph(store: Store, require_dot: None, name: str, draw: object) -> None:
    """`make images` wrote them from the graph as it is: the same text as a drawing made now (run
    `make images` and commit them when this fails)."""
    path = ROOT / "docs" / "images" / name
    assert path.is_file(), f"{path} is missing: run make images"
    assert callable(draw)
    assert svg_text(path.read_bytes()) == svg_text(draw(store).data)
