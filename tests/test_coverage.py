"""Every number in the cleaned corpus is captured by a claim or waived with a reason."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from kgtool.build import BuildResult, build
from kgtool.cli import main
from kgtool.config import Project
from kgtool.coverage import Status, coverage


def test_every_number_is_captured_or_waived(built: BuildResult) -> None:
    report = coverage(built)
    assert report.numbers, "the corpus has numbers"
    missing = [(m.doc_id, m.text) for m in report.missing_numbers]
    assert missing == []
    assert all(m.by for m in report.numbers)


def test_numbers_are_found_in_every_document(built: BuildResult) -> None:
    docs = {m.doc_id for m in coverage(built).numbers}
    assert docs == {"000", "001", "002", "003", "004"}


def test_removing_a_waiver_is_caught(project_copy: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = project_copy.facts / "000.yaml"
    text = facts.read_text(encoding="utf-8")
    assert "waivers:" in text
    facts.write_text(re.sub(r"\nwaivers:\n(.|\n)*$", "\n", text), encoding="utf-8")
    report = coverage(build(project_copy))
    assert any(m.doc_id == "000" and m.status is Status.MISSING for m in report.numbers)
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    result = CliRunner().invoke(main, ["coverage"])
    assert result.exit_code == 1
    assert "missing" in result.output
