"""Nothing lost: a process killed at any moment while writing leaves the old file or the new one, never a
torn one; curated data and releases are never replaced without the explicit option, not even by a
writer that races the check.

The kills are real: a child process runs the command and SIGKILLs itself at a chosen step of the write
(half the bytes written, before the rename, right after it), then the parent looks at what is left.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.rdfio import write_atomic
from kgtool.release import release, verify_release

from .conftest import ROOT

# Runs in the child: SIGKILL the process at STAGE of the first atomic write into TARGET's folder.
KILLER = """
import os, signal, sys
from pathlib import Path
target, stage, argv = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def ours(fd):
    name = os.readlink(f"/proc/self/fd/{fd}")
    return name.startswith(str(target.parent) + "/.") and name.endswith(".tmp")

real_fdopen, real_replace = os.fdopen, os.replace

class HalfThenDie:
    def __init__(self, stream):
        self.stream = stream
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.stream.__exit__(*exc)
    def write(self, data):
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        os.fsync(self.stream.fileno())
        die()

def fdopen(fd, *args, **kwargs):
    stream = real_fdopen(fd, *args, **kwargs)
    return HalfThenDie(stream) if stage == "mid-write" and ours(fd) else stream

def replace(source, destination, *args, **kwargs):
    if Path(destination).resolve() == target and stage == "before-rename":
        die()
    real_replace(source, destination, *args, **kwargs)
    if Path(destination).resolve() == target and stage == "after-rename":
        die()

os.fdopen, os.replace = fdopen, replace
from kgtool.cli import main
main(argv)
"""
STAGES = {"mid-write": "old", "before-rename": "old", "after-rename": "new"}


def run_killed(target: Path, stage: str, *argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", KILLER, str(target), stage, *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


COMMANDS = {
    "build": ["build", "--output", "{target}"],
    "export": ["export", "--format", "ntriples", "--output", "{target}"],
    "query": ["query", "-e", "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o", "--format", "csv",
              "--output", "{target}"],
}


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_killed_while_writing_leaves_the_old_file_or_the_new(command: str, stage: str,
                                                                       tmp_path: Path) -> None:
    target = tmp_path / "out.data"
    argv = [a.replace("{target}", str(target)) for a in COMMANDS[command]]
    first = CliRunner().invoke(main, argv)  # the new content, written normally, for comparison
    assert first.exit_code == 0, first.output
    new = target.read_bytes()
    old = b"the previous content, which must survive a crash\n" * 1000
    target.write_bytes(old)
    done = run_killed(target, stage, *argv)
    assert done.returncode == -9, done.stderr[-2000:]  # killed where we said, not ended some other way
    left = target.read_bytes()
    assert left == (old if STAGES[stage] == "old" else new), f"{command} killed {stage}: a torn file"
    assert len(new) > 1000  # half of it is a visibly torn file


def test_write_atomic_keeps_permissions_a_user_expects(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.ttl"
    mask = os.umask(0o027)
    try:
        write_atomic(fresh, b"x")
    finally:
        os.umask(mask)
    assert fresh.stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600
    kept = tmp_path / "kept.ttl"
    kept.write_bytes(b"old")
    kept.chmod(0o604)
    write_atomic(kept, b"new")
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o604


def test_write_atomic_without_replace_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "curated.yaml"
    path.write_bytes(b"curated by hand")
    with pytest.raises(BadInputError, match="exists already and was not replaced"):
        write_atomic(path, b"generated", replace=False)
    assert path.read_bytes() == b"curated by hand"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curated.yaml"]  # no temporary file left
    write_atomic(tmp_path / "new.yaml", b"generated", replace=False)
    assert (tmp_path / "new.yaml").read_bytes() == b"generated"


# ---- releases -----------------------------------------------------------------------------------------

RELEASE_KILLER = """
import os, signal, sys
from pathlib import Path
import kgtool.release as releases
from kgtool.config import Project
root, stage = Path(sys.argv[1]), sys.argv[2]
exchange = releases._exchange

def killing_exchange(first, second):
    if stage == "before-exchange":
        os.kill(os.getpid(), signal.SIGKILL)
    exchange(first, second)
    if stage == "after-exchange":
        os.kill(os.getpid(), signal.SIGKILL)

real_rename = os.rename

def killing_rename(source, destination):  # any step that renames something onto the release folder
    if stage == "renaming-onto-it" and Path(destination).resolve() == (root / "dist" / "1.0.0").resolve():
        os.kill(os.getpid(), signal.SIGKILL)
    real_rename(source, destination)

releases._exchange, os.rename = killing_exchange, killing_rename
releases.release(Project(root), "1.0.0", overwrite=True)
os.kill(os.getpid(), signal.SIGKILL)  # done: the same exit as the others, for the parent's check
"""


@pytest.mark.parametrize("stage, survivor", [("before-exchange", "old"), ("after-exchange", "new"),
                                             ("renaming-onto-it", "new")])
def test_release_overwrite_killed_at_any_step_leaves_a_whole_release(project_copy: Project, stage: str,
                                                                     survivor: str) -> None:
    release(project_copy, "1.0.0")
    folder = project_copy.dist / "1.0.0"
    old = {p.name: digest(p) for p in folder.iterdir()}
    with (project_copy.ontology / "kgtool.ttl").open("a", encoding="utf-8") as stream:
        stream.write('\nkg:Deposit rdfs:comment "changed after release 1.0.0"@en .\n')
    done = subprocess.run([sys.executable, "-c", RELEASE_KILLER, str(project_copy.root), stage], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == -9, done.stderr[-2000:]
    assert verify_release(folder) == []  # every file there, every checksum right: one whole release
    changed = "changed after release 1.0.0" in (folder / "kgtool.ttl").read_text(encoding="utf-8")
    assert changed is (survivor == "new")
    assert ({p.name: digest(p) for p in folder.iterdir()} == old) is (survivor == "old")


def test_a_release_is_not_replaced_by_a_racing_writer(built: BuildResult, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import kgtool.release as releases

    dist = tmp_path / "dist"
    real = releases.changelog

    def racing_changelog(*args: object) -> str:  # another process releases 2.0.0 while this one works
        (dist / "2.0.0").mkdir(parents=True)
        (dist / "2.0.0" / "theirs.txt").write_text("another process's release", encoding="utf-8")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(releases, "changelog", racing_changelog)
    with pytest.raises(BadInputError, match="release 2.0.0 already exists"):
        release(Project(ROOT), "2.0.0", dist=dist, built=built)
    assert [p.name for p in (dist / "2.0.0").iterdir()] == ["theirs.txt"]
    assert sorted(p.name for p in dist.iterdir()) == ["2.0.0"]  # no staging folder left behind


# ---- ingest --accept -----------------------------------------------------------------------------------

ARTICLE = """Rosatom and the Solikamsk Magnesium Works

Rosatom said on Tuesday that the Solikamsk Magnesium Works would process 9,000 tonnes of loparite
concentrate next year.
"""


def test_accept_does_not_replace_curated_facts_written_meanwhile(project_copy: Project, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import kgtool.ingest as ingest

    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    review = tmp_path / "review.yaml"
    made = CliRunner().invoke(main, ["ingest", str(article), "--add", "--review", str(review)])
    assert made.exit_code == 0, made.output
    target = project_copy.facts / "005.yaml"
    curated = b"# curated by hand while kgtool checked the review file\n"
    real = ingest.load_curated

    def racing_load_curated(*args: object) -> object:  # a curator saves 005.yaml after the existence check
        found = real(*args)  # type: ignore[arg-type]
        target.write_bytes(curated)
        return found

    monkeypatch.setattr(ingest, "load_curated", racing_load_curated)
    result = CliRunner().invoke(main, ["ingest", "--accept", str(review)])
    assert result.exit_code == 3 and "exists already and was not replaced" in result.stderr, result.output
    assert target.read_bytes() == curated
