"""The command line: every command documented with an example, listed in the README; errors are clean."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from kgtool.cli import main

from .conftest import ROOT

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "Exit codes" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"kgtool {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_usage_error_is_exit_2() -> None:
    assert CliRunner().invoke(main, ["export", "--format", "png"]).exit_code == 2


def test_unknown_query_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["query", "no-such-query"])
    assert result.exit_code == 3
    assert "unknown saved query" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_formats_parse_back_to_the_same_graph(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rdflib import Graph
    from rdflib.compare import isomorphic

    graphs = {}
    for fmt, parser in (("turtle", "turtle"), ("ntriples", "nt"), ("jsonld", "json-ld"), ("rdfxml", "xml")):
        out = tmp_path / f"graph.{fmt}"
        result = CliRunner().invoke(main, ["export", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        graphs[fmt] = Graph().parse(out, format=parser)
    assert len(graphs["turtle"]) > 5000
    for fmt, graph in graphs.items():
        assert isomorphic(graph, graphs["turtle"]), fmt
