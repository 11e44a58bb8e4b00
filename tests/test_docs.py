"""Ontology documentation: every class and property of ontology/*.ttl on the page, with what the issue asks
for; missing annotations are warnings; text from the graph is escaped; offline and byte-stable."""
from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.docs import OntologyDocs, anchor, document_ontology, document_project, short_name
from kgtool.namespaces import KG, OWL, RDF, RDFS, SH, SKOS
from kgtool.rdfio import load_graph

from .conftest import ROOT

KINDS = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


class Sections(HTMLParser):
    """The page's element ids, and the text of each <section> by its id."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.tags: set[str] = set()
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "section":
            self._open.append(str(found.get("id")))
            self.text[self._open[-1]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for section in self._open:
            self.text[section].append(data)

    def of(self, term: URIRef) -> str:
        return " ".join(" ".join(self.text[anchor(term)]).split())


def parse(page: str) -> Sections:
    sections = Sections()
    sections.feed(page)
    return sections


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return load_graph(*sorted((ROOT / "ontology").glob("*.ttl")))


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return load_graph(*sorted((ROOT / "shapes").glob("*.ttl")))


@pytest.fixture(scope="module")
def docs(ontology: Graph, shapes: Graph, built: BuildResult) -> OntologyDocs:
    return document_ontology(ontology, shapes, built.graph)


@pytest.fixture(scope="module")
def page(docs: OntologyDocs) -> Sections:
    return parse(docs.html)


def test_every_class_and_property_has_a_section(ontology: Graph, docs: OntologyDocs, page: Sections) -> None:
    terms = {t for kind in KINDS for t in ontology.subjects(RDF.type, kind) if isinstance(t, URIRef)}
    assert len(terms) > 150
    assert set(docs.terms) == terms
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    for term in terms:
        assert anchor(term) in page.ids, short_name(term)
        assert str(term) in page.of(term), f"the section of {short_name(term)} names its IRI"
    internal = {link[1:] for link in page.links if link.startswith("#")}
    assert internal <= set(page.ids), f"links to no section: {sorted(internal - set(page.ids))[:5]}"


def test_a_class_section_says_what_the_issue_asks(ontology: Graph, shapes: Graph, built: BuildResult,
                                                  page: Sections) -> None:
    for cls in (t for t in ontology.subjects(RDF.type, OWL.Class) if isinstance(t, URIRef)):
        text = page.of(cls)
        label, definition = ontology.value(cls, RDFS.label), ontology.value(cls, SKOS.definition)
        if label is not None:
            assert str(label) in text
        if definition is not None:
            assert " ".join(str(definition).split()) in text
        for parent in ontology.objects(cls, RDFS.subClassOf):
            if isinstance(parent, URIRef):
                assert short_name(parent) in text, (short_name(cls), short_name(parent))
        for child in ontology.subjects(RDFS.subClassOf, cls):
            assert short_name(child) in text
        for shape in shapes.subjects(SH.targetClass, cls):
            assert short_name(shape) in text, (short_name(cls), short_name(shape))
        assert "examples" in text and "SHACL shapes" in text
    deposit = page.of(KG.Deposit)
    instances = [built.graph.value(i, RDFS.label) for i in built.graph.subjects(RDF.type, KG.Deposit)]
    assert any(str(label) in deposit for label in instances if label is not None)
    assert "subsoil area" in deposit  # its skos:altLabel, and its subclass kg:SubsoilArea
    assert "kgsh:DepositShape" in deposit and "kg:hostsCommodity" in deposit


def test_a_property_section_gives_domain_range_shapes_and_uses(ontology: Graph, shapes: Graph, built: BuildResult,
                                                              page: Sections) -> None:
    for kind in KINDS[1:]:
        for prop in (t for t in ontology.subjects(RDF.type, kind) if isinstance(t, URIRef)):
            text = page.of(prop)
            for end in (*ontology.objects(prop, RDFS.domain), *ontology.objects(prop, RDFS.range)):
                if isinstance(end, URIRef):
                    assert short_name(end) in text, (short_name(prop), short_name(end))
            for property_shape in shapes.subjects(SH.path, prop):
                owners = list(shapes.subjects(SH.property, property_shape))
                if isinstance(property_shape, URIRef):
                    assert any(short_name(owner) in text for owner in owners or [property_shape]), short_name(prop)
    # an anonymous property shape inside a logical constraint is shown with the named shape around it:
    # kgsh:MemorandumShape sh:or ( [ sh:path kg:concernsDeposit ; sh:minCount 1 ] ... )
    assert "kgsh:MemorandumShape" in page.of(KG.concernsDeposit)
    value = page.of(KG.value)
    assert "kg:QuantitativeClaim" in value and "xsd:decimal" in value and "FunctionalProperty" in value
    uses = len(list(built.graph.triples((None, KG.value, None))))
    assert uses > 3 and f"({uses} uses in all)" in value  # three examples shown, the total counted
    assert "kg:controls" in page.of(KG.controlledBy)  # inverse of


def test_missing_annotations_are_warnings_not_failures() -> None:
    ontology, shapes, data = Graph(), Graph(), Graph()
    bare, labelled = URIRef("https://example.org/Bare"), URIRef("https://example.org/Labelled")
    ontology.add((bare, RDF.type, OWL.Class))
    ontology.add((labelled, RDF.type, OWL.Class))
    ontology.add((labelled, RDFS.label, Literal("labelled", lang="en")))
    ontology.add((labelled, RDFS.subClassOf, bare))
    docs = document_ontology(ontology, shapes, data)
    assert set(docs.terms) == {bare, labelled}
    assert any("https://example.org/Bare" in w and "no rdfs:label" in w for w in docs.warnings)
    assert sum("no skos:definition" in w for w in docs.warnings) == 2
    assert not any("label" in w and "Labelled" in w and "no rdfs:label" in w for w in docs.warnings)
    page = parse(docs.html)
    assert anchor(bare) in page.ids and "none in the graph" in page.of(bare)


def test_hostile_text_is_escaped() -> None:
    ontology, shapes, data = Graph(), Graph(), Graph()
    term, instance = URIRef("https://example.org/Evil"), URIRef("https://example.org/thing")
    ontology.add((term, RDF.type, OWL.Class))
    ontology.add((term, RDFS.label, Literal('<script>alert("x")</script>')))
    ontology.add((term, SKOS.definition, Literal("a & b <img src=x onerror=alert(1)> \"quoted\"")))
    data.add((instance, RDF.type, term))
    data.add((instance, RDFS.label, Literal("</section><section id='x'>")))
    docs = document_ontology(ontology, shapes, data)
    assert "<script>" not in docs.html and "<img" not in docs.html and "</section><section id='x'>" not in docs.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in docs.html
    page = parse(docs.html)
    assert "script" not in page.tags and "img" not in page.tags
    assert '<script>alert("x")</script>' in page.of(term)
    assert "</section><section id='x'>" in page.of(term)


def test_offline_and_byte_stable(docs: OntologyDocs, ontology: Graph, shapes: Graph, built: BuildResult) -> None:
    page = parse(docs.html)
    assert not page.tags & {"script", "link", "img", "iframe"}, "nothing is fetched"
    assert all(link.startswith("#") for link in page.links), "links stay on the page"
    assert document_ontology(ontology, shapes, built.graph).html == docs.html


def test_cli_docs_writes_the_page_and_prints_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     project_copy: Project, built: BuildResult) -> None:
    shutil.copytree(ROOT / "shapes", project_copy.shapes)
    with (project_copy.ontology / "kgtool.ttl").open("a", encoding="utf-8") as ttl:
        ttl.write("\nkg:Undocumented a owl:Class .\n")
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    monkeypatch.setattr("kgtool.docs.build", lambda project: built)
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["docs", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: kg:Undocumented (class): no rdfs:label" in result.stderr
    assert result.stdout.startswith("documented ") and str(out / "index.html") in result.stdout
    page = parse((out / "index.html").read_text(encoding="utf-8"))
    assert anchor(KG.Undocumented) in page.ids and anchor(KG.Deposit) in page.ids
    assert document_project(project_copy).html == (out / "index.html").read_text(encoding="utf-8")
