"""The ontology linter: the shipped graph is clean, each check fires on its fixture, lint.yaml is read."""
from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.curated import read_yaml
from kgtool.errors import BadInputError
from kgtool.lint import (CHECK_IDS, CHECKS, DEFAULT_CONFIG, Level, LintConfig, LintReport, lint,
                         load_lint_config)
from kgtool.namespaces import KG, KGR, KGV, PROV, RDFS, SH
from kgtool.rdfio import load_graph
from kgtool.store import new_graph

FIXTURES = Path(__file__).resolve().parent / "data" / "lint"
EX = "http://example.org/vocab#"


def _shapes(project: Project) -> Graph:
    """The project's shapes (shapes/*.ttl), or an empty graph while there are none."""
    files = sorted(project.shapes.glob("*.ttl")) if project.shapes.is_dir() else []
    return load_graph(*files) if files else new_graph()


def _fixture(name: str | None = None, shapes: Graph | None = None,
             config: LintConfig = DEFAULT_CONFIG) -> LintReport:
    """Lint the test ontology (plus `<name>.ontology.ttl`) and clean data (plus `<name>.ttl`).

    As in a build, the data graph holds the ontology too."""
    ontology = load_graph(FIXTURES / "ontology.ttl")
    if name and (FIXTURES / f"{name}.ontology.ttl").exists():
        ontology += load_graph(FIXTURES / f"{name}.ontology.ttl")
    data = new_graph()
    data += ontology
    data += load_graph(FIXTURES / "clean.ttl")
    if name and (FIXTURES / f"{name}.ttl").exists():
        data += load_graph(FIXTURES / f"{name}.ttl")
    return lint(ontology, data, shapes if shapes is not None else new_graph(), config)


def _subjects(report: LintReport, check: str) -> set[URIRef]:
    return {finding.subject for finding in report.of(check)}


@pytest.fixture(scope="module")
def shipped(built: BuildResult, project: Project) -> LintReport:
    return lint(built.sources.ontology.graph, built.graph, _shapes(project), load_lint_config(project.root / "lint.yaml"))


# The shipped graph


def test_shipped_graph_is_clean_at_error_and_warn(shipped: LintReport) -> None:
    serious = [str(f) for f in shipped.findings if f.level is not Level.INFO]
    print(f"\nlint of the shipped graph: {shipped.count(Level.INFO)} info finding(s)")
    for finding in shipped.findings:
        print(f"  {finding}")
    assert shipped.count(Level.ERROR) == 0, "\n".join(serious)
    assert shipped.count(Level.WARN) == 0, "\n".join(serious)
    assert not shipped.fails()


def test_findings_are_sorted_and_deterministic(built: BuildResult, shipped: LintReport, project: Project) -> None:
    again = lint(built.sources.ontology.graph, built.graph, _shapes(project),
                 load_lint_config(project.root / "lint.yaml"))
    assert again == shipped
    order = {Level.ERROR: 0, Level.WARN: 1, Level.INFO: 2}
    keys = [(order[f.level], f.check, str(f.subject), f.message) for f in shipped.findings]
    assert keys == sorted(keys)


# The fixtures


def test_clean_fixture_has_no_findings_at_all() -> None:
    """Blank-node axioms, rdf:List cells, the ontology inside the data, a licence IRI, derived
    datatypes and plain/language-tagged strings for xsd:string: none of them is a finding."""
    report = _fixture()
    assert report.findings == ()
    assert not report.fails()


def test_missing_label() -> None:
    report = _fixture("missing-label")
    assert _subjects(report, "missing-label") == {KG.Nameless, KGV.kilogram, KGV.blank}
    assert PROV.Activity not in _subjects(report, "missing-label")
    assert {f.level for f in report.of("missing-label")} == {Level.ERROR}
    assert report.fails()


def test_missing_definition_names_the_term_by_label_and_prefixed_iri() -> None:
    report = _fixture("missing-definition")
    [finding] = report.of("missing-definition")
    assert (finding.check, finding.level, finding.subject) == ("missing-definition", Level.ERROR, KG.undefined)
    assert '"undefined" (kg:undefined)' in finding.message


def test_duplicate_label_terms_and_individuals_of_one_class() -> None:
    report = _fixture("duplicate-label")
    assert _subjects(report, "duplicate-label") == {KG.Place, KG.Town, KGR.alice, KGR["alice-2"]}
    assert {f.level for f in report.of("duplicate-label")} == {Level.WARN}
    [town] = [f for f in report.of("duplicate-label") if f.subject == KG.Town]
    assert "kg:Place" in town.message


def test_undeclared_property() -> None:
    report = _fixture("undeclared-property")
    assert _subjects(report, "undeclared-property") == {KG.favouriteColour, URIRef(str(RDFS) + "lable")}
    assert {f.level for f in report.of("undeclared-property")} == {Level.ERROR}


def test_unused_term_and_shapes_count_as_use() -> None:
    report = _fixture("unused-term")
    assert _subjects(report, "unused-term") == {KG.spouse, KG.City}
    assert {f.level for f in report.of("unused-term")} == {Level.INFO}
    assert not report.fails(), "INFO findings never fail a run"
    shapes = new_graph()
    shapes.add((URIRef("https://w3id.org/kgtool/shapes#PersonShape"), SH.path, KG.spouse))
    assert _subjects(_fixture("unused-term", shapes=shapes), "unused-term") == {KG.City}


def test_axioms_of_a_separately_parsed_data_graph_are_not_use() -> None:
    """Parsed apart, the data's copy of an OWL axiom has blank nodes of its own; its rdf:List cells
    (which name kg:City) still do not count as use."""
    ontology = load_graph(FIXTURES / "ontology.ttl", FIXTURES / "unused-term.ontology.ttl")
    data = load_graph(FIXTURES / "ontology.ttl", FIXTURES / "unused-term.ontology.ttl", FIXTURES / "clean.ttl")
    report = lint(ontology, data, new_graph())
    assert _subjects(report, "unused-term") == {KG.spouse, KG.City}
    assert report.findings == _fixture("unused-term").findings


def test_domain_violation() -> None:
    report = _fixture("domain-violation")
    [finding] = report.of("domain-violation")
    assert (finding.level, finding.subject) == (Level.WARN, KGR.paris)
    assert "kg:Person" in finding.message


def test_range_violation() -> None:
    report = _fixture("range-violation")
    found = {f.subject: f for f in report.of("range-violation")}
    assert set(found) == {KGR.carol, KGR.dave, KGR.erin, KGR.frank, KGR.gina, KGR.hank}
    assert {f.level for f in found.values()} == {Level.WARN}
    assert "kg:Place" in found[KGR.carol].message
    assert "not a valid xsd:nonNegativeInteger" in found[KGR.frank].message
    assert "literal" in found[KGR.hank].message


def test_untyped_individual() -> None:
    report = _fixture("untyped-individual")
    [finding] = report.of("untyped-individual")
    assert (finding.check, finding.level, finding.subject) == ("untyped-individual", Level.WARN, KGR.ghost)


def test_deprecated_used() -> None:
    report = _fixture("deprecated-used")
    [finding] = report.of("deprecated-used")
    assert (finding.level, finding.subject) == (Level.ERROR, KG.oldName)
    assert "kg:nickname" in finding.message, "names the replacement"


def test_unknown_namespace() -> None:
    report = _fixture("unknown-namespace")
    assert _subjects(report, "unknown-namespace") == {URIRef(EX + "Human"), URIRef(EX + "something")}
    assert {f.level for f in report.of("unknown-namespace")} == {Level.WARN}


def test_every_check_has_a_fixture_that_triggers_it() -> None:
    fixtures = {"domain-violation", "range-violation", *[p.name.split(".")[0] for p in FIXTURES.glob("*.ttl")]}
    assert set(CHECK_IDS) <= fixtures
    for check in CHECK_IDS:
        assert _fixture(check).of(check), check


# Configuration


def test_disabling_a_check_removes_its_findings() -> None:
    config = DEFAULT_CONFIG.with_check("range-violation", enabled=False)
    report = _fixture("range-violation", config=config)
    assert report.of("range-violation") == ()
    assert _fixture("range-violation").of("range-violation")


def test_raising_a_level_changes_it() -> None:
    config = DEFAULT_CONFIG.with_check("unused-term", level=Level.ERROR)
    report = _fixture("unused-term", config=config)
    assert {f.level for f in report.of("unused-term")} == {Level.ERROR}
    assert report.count(Level.ERROR) == 2
    assert report.fails()


def test_shipped_lint_yaml_lists_every_check(project: Project) -> None:
    raw = read_yaml(project.root / "lint.yaml")
    assert sorted(item["id"] for item in raw["checks"]) == sorted(CHECK_IDS)
    config = load_lint_config(project.root / "lint.yaml")
    assert all(config.enabled(check.id) for check in CHECKS)


def test_config_file_sets_enabled_and_level(tmp_path: Path) -> None:
    path = tmp_path / "lint.yaml"
    path.write_text("checks:\n  - id: unused-term\n    level: warn\n  - id: range-violation\n    enabled: false\n",
                    encoding="utf-8")
    config = load_lint_config(path)
    assert config.level("unused-term") is Level.WARN and config.enabled("unused-term")
    assert not config.enabled("range-violation")
    assert config.level("missing-label") is Level.ERROR, "checks left out keep their defaults"
    assert _fixture("range-violation", config=config).of("range-violation") == ()


def test_unknown_check_id_in_config_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lint.yaml"
    path.write_text("# comment\nchecks:\n  - id: missing-label\n    level: ERROR\n  - id: no-such-check\n"
                    "    level: WARN\n", encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_lint_config(path)
    assert caught.value.line == 5
    assert "no-such-check" in caught.value.message
    assert caught.value.exit_code == 3


def test_unknown_level_in_config_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lint.yaml"
    path.write_text("checks:\n  - id: missing-label\n    enabled: true\n    level: FATAL\n", encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_lint_config(path)
    assert caught.value.line == 4
    assert "FATAL" in caught.value.message


def test_other_config_mistakes_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "lint.yaml"
    for text, line in (("checks:\n  - id: missing-label\n    enabled: sometimes\n", 3),
                       ("checks:\n  - id: missing-label\n  - id: missing-label\n", 3),
                       ("checks:\n  - id: missing-label\n    colour: red\n", 3),
                       ("rules: []\n", 1)):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(BadInputError) as caught:
            load_lint_config(path)
        assert caught.value.line == line, text


def test_empty_shapes_graph_is_accepted() -> None:
    assert _fixture(shapes=Graph()).findings == ()
