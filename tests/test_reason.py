"""OWL reasoning with HermiT: the shipped graph is consistent; a broken disjointness is caught and explained."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.namespaces import KG, KGR, RDF
from kgtool.reason import Reasoner, find_clashes, reason, reasoner_view
from kgtool.store import new_graph

pytestmark = pytest.mark.usefixtures("require_java")


def test_shipped_graph_is_consistent(built: BuildResult) -> None:
    report = reason(built.graph)
    assert report.consistent
    assert report.unsatisfiable == ()
    assert (KGR.rosatom, RDF.type, KG.Organisation) in report.inferred, "inferred superclass type"
    assert (KG.Lanthanide, KG.Organisation, None) not in report.inferred


def test_disjointness_violation_is_inconsistent_and_explained(built: BuildResult) -> None:
    broken = new_graph()
    broken += built.graph
    broken.add((KGR["vladimir-putin"], RDF.type, KG.Organisation))
    report = reason(broken)
    assert not report.consistent
    clashes = {(c.individual, c.first, c.second) for c in report.clashes}
    assert (KGR["vladimir-putin"], KG.Organisation, KG.Person) in clashes


def test_reasoner_view_drops_only_non_owl2_dates(built: BuildResult) -> None:
    view, omitted = reasoner_view(built.graph)
    assert omitted > 0
    assert len(view) + omitted == len(built.graph)
    assert find_clashes(view) == []


def test_cli_exits_1_naming_the_clash(project_copy: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = project_copy.data / "entities.yaml"
    text = registry.read_text(encoding="utf-8")
    registry.write_text(text.replace("    type: StateCorporation\n    label: Rosatom\n",
                                     "    type: [StateCorporation, Person]\n    label: Rosatom\n", 1), encoding="utf-8")
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    result = CliRunner().invoke(main, ["reason"])
    assert result.exit_code == 1
    assert "INCONSISTENT" in result.stderr
    assert "kgr:rosatom is both kg:Organisation" in result.stderr


def test_pellet_agrees_with_hermit(built: BuildResult) -> None:
    assert reason(built.graph, reasoner=Reasoner.PELLET).consistent
    broken = new_graph()
    broken += built.graph
    broken.add((KGR.rosatom, RDF.type, KG.Person))
    assert not reason(broken, reasoner=Reasoner.PELLET).consistent
