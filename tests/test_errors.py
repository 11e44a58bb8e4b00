"""Malformed curated data: one clear message with file and line, exit 3, no traceback, no output file."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kgtool.build import build
from kgtool.cli import main
from kgtool.config import Project
from kgtool.errors import BadInputError


def _run_build(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, Path]:
    monkeypatch.setenv("KGTOOL_PROJECT", str(project.root))
    output = project.root / "out" / "graph.ttl"
    result = CliRunner().invoke(main, ["build", "--output", str(output)])
    return result.exit_code, result.stderr, output


def _replace(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


def test_quote_not_in_source_names_file_line_and_document(project_copy: Project,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    facts = project_copy.facts / "002.yaml"
    text = facts.read_text(encoding="utf-8")
    quote = "28.7 million tons at 18 explored deposits"
    assert quote in text
    line = text[:text.index(quote)].count("\n") + 1
    facts.write_text(text.replace(quote, "28.9 million tons at 18 explored deposits", 1), encoding="utf-8")
    code, stderr, output = _run_build(project_copy, monkeypatch)
    assert code == 3
    assert f"002.yaml:{line}:" in stderr
    assert "quote not found in document 002" in stderr
    assert "Traceback" not in stderr
    assert not output.exists() and not output.parent.exists()


def test_malformed_yaml_names_the_line(project_copy: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    line = _replace(project_copy.data / "entities.yaml", "  - id: rostec\n", "  - id: rostec\n    label: [unclosed\n")
    code, stderr, _ = _run_build(project_copy, monkeypatch)
    assert code == 3
    assert "entities.yaml:" in stderr and "malformed YAML" in stderr
    reported = int(stderr.split("entities.yaml:")[1].split(":")[0])
    assert line <= reported <= line + 3
    assert "Traceback" not in stderr


def test_unknown_entity_reference(project_copy: Project) -> None:
    _replace(project_copy.facts / "002.yaml", "subject: tomtorskoye", "subject: tomtor-no-such-entity")
    with pytest.raises(BadInputError, match="unknown entity 'tomtor-no-such-entity' as subject"):
        build(project_copy)


def test_unknown_field_is_reported_with_allowed_ones(project_copy: Project) -> None:
    _replace(project_copy.facts / "002.yaml", "as_stated:", "as_said:")
    with pytest.raises(BadInputError, match="unknown field.*as_said") as error:
        build(project_copy)
    assert error.value.line is not None


def test_all_problems_are_reported_together(project_copy: Project) -> None:
    _replace(project_copy.facts / "002.yaml", "subject: tomtorskoye", "subject: nowhere-a")
    _replace(project_copy.facts / "003.yaml", "subject: russia", "subject: nowhere-b")
    with pytest.raises(BadInputError) as error:
        build(project_copy)
    assert "nowhere-a" in error.value.message and "nowhere-b" in error.value.message


def test_a_failed_build_keeps_the_previous_output(project_copy: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, output = _run_build(project_copy, monkeypatch)
    assert code == 0
    before = output.read_bytes()
    _replace(project_copy.facts / "002.yaml", "subject: tomtorskoye", "subject: nowhere")
    code, _, _ = _run_build(project_copy, monkeypatch)
    assert code == 3
    assert output.read_bytes() == before
    assert [p.name for p in output.parent.iterdir()] == [output.name], "no temporary files left behind"
