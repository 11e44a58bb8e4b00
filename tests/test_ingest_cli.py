"""`kgtool ingest` from the command line: report, review file, add, accept, and refusals."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kgtool.build import build
from kgtool.cli import main
from kgtool.config import Project

ARTICLE = """Rosatom and the Solikamsk Magnesium Works

Rosatom said on Tuesday that the Solikamsk Magnesium Works would process 9,000 tonnes of loparite
concentrate next year. Rostec's structure PROMISING MINING PROJECTS JSC holds the licence for the Ak-Sugsky subsurface area in Tuva.
"""


def test_json_report_links_known_entities(project: Project, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(article), "--format", "json"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    linked = {m["iri"].rsplit("/", 1)[-1] for m in report["mentions"] if m.get("iri")}
    assert {"rosatom", "solikamsk-magnesium-plant", "rostec", "ak-sugsky", "tuva"} <= linked
    assert any(q["value"] in ("9000", "9000.0", 9000) for q in report["quantities"])


def test_add_review_accept_then_build(project_copy: Project, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    review = tmp_path / "review.yaml"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(article), "--add", "--review", str(review)])
    assert result.exit_code == 0, result.output
    assert review.exists()
    stored = sorted(project_copy.sources.glob("005_*.txt"))
    assert len(stored) == 1 and stored[0].read_bytes() == article.read_bytes()
    result = runner.invoke(main, ["ingest", "--accept", str(review)])
    assert result.exit_code == 0, result.output
    assert (project_copy.facts / "005.yaml").exists()
    again = runner.invoke(main, ["ingest", "--accept", str(review)])
    assert again.exit_code == 3, "an existing facts file is not overwritten without --overwrite"
    graph = build(project_copy).graph
    assert len(graph) > 6000


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01binary\x00", "binary"),
    (b"caf\xe9 not utf-8", "UTF-8"),
])
def test_bad_input_is_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["ingest", str(path)])
    assert result.exit_code == 3
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_an_existing_review_file_stops_add_before_it_registers_anything(project_copy: Project, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    review = tmp_path / "review.yaml"
    review.write_text("# a review being edited\n", encoding="utf-8")
    documents = (project_copy.root / "data" / "documents.yaml").read_bytes()
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(article), "--add", "--review", str(review)])
    assert result.exit_code == 3 and "exists already" in result.stderr and "--overwrite" in result.stderr
    assert review.read_text(encoding="utf-8") == "# a review being edited\n"
    assert (project_copy.root / "data" / "documents.yaml").read_bytes() == documents
    assert not sorted(project_copy.sources.glob("005_*.txt")), "no document registered"
    result = runner.invoke(main, ["ingest", str(article), "--review", str(review), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert 'document: "005"' in review.read_text(encoding="utf-8"), "replaced by the new review"
