"""A query that would run forever and fill the machine's memory is stopped: the README's promise ("whose
memory may grow by 4 GiB at most ... exit 3", KGTOOL_QUERY_MEMORY for another limit) under a small limit."""
from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from kgtool.cli import main
from kgtool.errors import BadInputError
from kgtool.queries import QUERY_MEMORY, query_memory

from .conftest import ROOT

CARTESIAN = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # (6,000 triples)^3 rows


def test_a_cartesian_product_is_stopped_at_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTOOL_QUERY_MEMORY", "100M")
    result = CliRunner().invoke(main, ["query", "-e", CARTESIAN, "--timeout", "120"])
    assert result.exit_code == 3, result.output
    assert "the query needed more than the 100 MiB of memory it may use and was stopped" in result.stderr
    assert "KGTOOL_QUERY_MEMORY" in result.stderr and "Traceback" not in result.stderr  # exit 3, not the
    # time limit's 4: the memory limit stopped it


@pytest.mark.parametrize("text, size", [("", QUERY_MEMORY), ("300M", 300 << 20), ("2G", 2 << 30),
                                        ("1 GiB", 1 << 30), ("512k", 512 << 10), ("123456789", 123456789)])
def test_the_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, text: str, size: int) -> None:
    monkeypatch.setenv("KGTOOL_QUERY_MEMORY", text)
    assert query_memory() == size


@pytest.mark.parametrize("text", ["lots", "-1", "0", "1.5G", "3X"])
def test_a_limit_that_is_not_a_size_is_bad_input(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("KGTOOL_QUERY_MEMORY", text)
    with pytest.raises(BadInputError, match="is not a memory size"):
        query_memory()
    result = CliRunner().invoke(main, ["query", "-e", "ASK {}"])
    assert result.exit_code == 3 and "KGTOOL_QUERY_MEMORY" in result.stderr, result.output


# Runs in a child (rlimits are per process): an outer hard limit below what kgtool would ask for.
OUTER_CAP = """
import resource
from pathlib import Path
from kgtool.queries import _bound_memory
present = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
cap = present + (256 << 20)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
allowed = _bound_memory(4 << 30)
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
assert (soft, hard) == (cap, cap), (soft, hard, cap)
assert 0 < allowed <= 256 << 20, allowed
print("ok")
"""


def test_an_outer_hard_limit_is_kept_and_reported() -> None:
    done = subprocess.run([sys.executable, "-c", OUTER_CAP], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
