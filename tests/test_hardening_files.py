"""Nothing lost: a process killed at any moment while writing leaves the old file or the new one, never a
torn one; curated data and releases are never replaced without the explicit option, not even by a
writer that races the check.

The kills are real: a child process runs the command and SIGKILLs itself at a chosen step of the write
(half the bytes written, before the rename, right after it), then the parent looks at what is left.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from kgtool.build import BuildResult
from kgtool.cli import main
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.ingest import add_document, ingest_file, write_review
import kgtool.rdfio as rdfio
from kgtool.cache import fill_store, open_store
from kgtool.rdfio import exchange_paths, write_atomic
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
ALL, MID = tuple(sorted(STAGES)), ("mid-write",)  # every file goes through rdfio.atomic_output: the
# three stages run on a few commands (and synth, whose writer streams), the torn-file one on every other


def run_killed(target: Path, stage: str, *argv: str, cwd: Path = ROOT,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", KILLER, str(target), stage, *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False, env=env)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Writes:
    argv: tuple[str, ...]  # {target} is the file watched, {folder} the test's folder
    target: str = "out.data"
    stages: tuple[str, ...] = MID
    java: bool = False


COMMANDS = {
    "build": Writes(("build", "--output", "{target}"), stages=ALL),
    "export": Writes(("export", "--format", "ntriples", "--output", "{target}"), stages=ALL),
    "query": Writes(("query", "-e", "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o", "--format", "csv",
                     "--output", "{target}"), stages=ALL),
    "synth": Writes(("synth", "--triples", "3000", "--seed", "1", "--output", "{target}"), "synth.nt", ALL),
    "synth-manifest": Writes(("synth", "--triples", "3000", "--output", "{folder}/graph/synth.nt", "--manifest",
                              "{target}"), "synth.json"),
    "validate": Writes(("validate", "--output", "{target}")),
    "reason": Writes(("reason", "--inferred", "{target}"), "inferred.ttl", java=True),
    "graph": Writes(("graph", "--output", "{target}"), "graph.svg"),
    "chart": Writes(("chart", "--subject", "kgr:russia", "--measure", "kgv:reserves", "--output", "{target}"),
                    "chart.svg"),
    "docs": Writes(("docs", "--output", "{folder}"), "index.html"),
}


@pytest.mark.parametrize("command, stage", [(c, s) for c in sorted(COMMANDS) for s in COMMANDS[c].stages])
def test_a_command_killed_while_writing_leaves_the_old_file_or_the_new(command: str, stage: str, tmp_path: Path,
                                                                       request: pytest.FixtureRequest) -> None:
    writes = COMMANDS[command]
    if writes.java:
        request.getfixturevalue("require_java")
    target = tmp_path / writes.target
    argv = [a.replace("{target}", str(target)).replace("{folder}", str(tmp_path)) for a in writes.argv]
    new = None
    if STAGES[stage] == "new":
        first = CliRunner().invoke(main, argv)  # the new content, written normally, for comparison
        assert first.exit_code == 0, first.output
        new = target.read_bytes()
        assert len(new) > 1000  # half of it is a visibly torn file
    old = b"the previous content, which must survive a crash\n" * 1000
    target.write_bytes(old)
    done = run_killed(target, stage, *argv)
    assert done.returncode == -9, done.stderr[-2000:]  # killed where we said, not ended some other way
    assert target.read_bytes() == (old if new is None else new), f"{command} killed {stage}: a torn file"


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




# ---- stores (kgtool store, build --store, the build cache) ---------------------------------------------

# Runs in the child: `kgtool store` replacing the store at TARGET, SIGKILLed at STAGE of putting the new one
# in place, or at the end when that stage never comes (the parent then finds the new store).
STORE_KILLER = """
import os, signal, sys
from pathlib import Path
import kgtool.cache as cache
target, stage, argv = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def watched(real):
    def move(source, destination, *args, **kwargs):
        if stage == "before-swap" and Path(destination).resolve() == target:
            die()
        result = real(source, destination, *args, **kwargs)
        if stage == "moved-away" and Path(source).resolve() == target:
            die()  # the store is no longer at its name: a second step would have to put one there
        if stage == "after-swap" and Path(destination).resolve() == target:
            die()  # the new store is in place; the old one not yet removed
        return result
    return move

os.rename, os.replace = watched(os.rename), watched(os.replace)
if hasattr(cache, "exchange_paths"):
    cache.exchange_paths = watched(cache.exchange_paths)
from kgtool.cli import main
try:
    main(argv)
except SystemExit:
    pass
die()
"""


def swaps_in_one_step(folder: Path) -> bool:
    first, second = folder / "probe-a", folder / "probe-b"
    first.mkdir()
    second.mkdir()
    try:
        return exchange_paths(first, second)
    finally:
        first.rmdir()
        second.rmdir()


def store_holds(store: Path) -> set[str]:
    return {str(o) for _, _, o in open_store(store).to_graph()}


@pytest.mark.parametrize("stage, survivor", [("before-swap", "old"), ("moved-away", "new"), ("after-swap", "new")])
def test_a_store_replaced_by_a_killed_process_is_the_old_or_the_new(stage: str, survivor: str,
                                                                    tmp_path: Path) -> None:
    if stage == "moved-away" and not swaps_in_one_step(tmp_path):
        pytest.xfail("no RENAME_EXCHANGE on this file system: the documented two-rename fallback")
    old, new = tmp_path / "old.nt", tmp_path / "new.nt"
    old.write_text('<urn:x:s> <urn:x:p> "old" .\n', encoding="utf-8")
    new.write_text('<urn:x:s> <urn:x:p> "new" .\n<urn:x:t> <urn:x:p> "new too" .\n', encoding="utf-8")
    store = tmp_path / "graph.store"
    made = CliRunner().invoke(main, ["store", str(store), str(old)])
    assert made.exit_code == 0, made.output
    done = subprocess.run([sys.executable, "-c", STORE_KILLER, str(store), stage, "store", str(store), str(new)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == -9, done.stderr[-2000:]
    assert store_holds(store) == ({"old"} if survivor == "old" else {"new", "new too"})
    query = CliRunner().invoke(main, ["query", "-e", "SELECT ?o WHERE { ?s ?p ?o }", "--store", str(store)])
    assert query.exit_code == 0 and ("new too" in query.stdout) is (survivor == "new"), query.output
    if stage == "after-swap":  # killed before removing it: the old store, whole, under a hidden name
        [aside] = [p for p in tmp_path.iterdir() if p.name.startswith(".graph.store.") and p.name.endswith(".new")]
        assert store_holds(aside) == {"old"}


def test_without_renameat2_the_swap_falls_back_to_renames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "name").write_text(folder.name, encoding="utf-8")
    monkeypatch.setattr(rdfio, "_renameat2", lambda: None)
    assert exchange_paths(first, second) is False
    assert (first / "name").read_text(encoding="utf-8") == "second"
    assert (second / "name").read_text(encoding="utf-8") == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]
    data = tmp_path / "data.nt"
    for value in ("old", "new"):
        data.write_text(f'<urn:x:s> <urn:x:p> "{value}" .\n', encoding="utf-8")
        fill_store(tmp_path / "graph.store", files=[data])
    assert store_holds(tmp_path / "graph.store") == {"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.nt", "first", "graph.store", "second"]


# ---- releases -----------------------------------------------------------------------------------------

RELEASE_KILLER = """
import os, signal, sys
from pathlib import Path
import kgtool.release as releases
from kgtool.config import Project
root, stage = Path(sys.argv[1]), sys.argv[2]
exchange = releases.exchange_paths

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

releases.exchange_paths, os.rename = killing_exchange, killing_rename
releases.release(Project(root), "1.0.0", overwrite=True)
os.kill(os.getpid(), signal.SIGKILL)  # done: the same exit as the others, for the parent's check
"""


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with release 1.0.0 made, made once (each test copies it)."""
    root = tmp_path_factory.mktemp("released")
    for folder in ("ontology", "data", "corpus", "queries"):
        shutil.copytree(ROOT / folder, root / folder)
    release(Project(root), "1.0.0")
    return root


@pytest.mark.parametrize("stage, survivor", [("before-exchange", "old"), ("after-exchange", "new"),
                                             ("renaming-onto-it", "new")])
def test_release_overwrite_killed_at_any_step_leaves_a_whole_release(released: Path, tmp_path: Path, stage: str,
                                                                     survivor: str) -> None:
    project_copy = Project(tmp_path / "project")
    shutil.copytree(released, project_copy.root)
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


@pytest.mark.parametrize("option", ["review", "add", "accept"])
def test_ingest_killed_while_writing_leaves_curated_data_whole(option: str, project_copy: Project, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    old: bytes | None
    if option == "review":  # a new review file: killed, there is none (it never replaces a file)
        target, old = tmp_path / "review.yaml", None
        argv = ["ingest", str(article), "--review", str(target)]
    elif option == "add":  # the registry of documents, rewritten with one more entry
        target = project_copy.data / "documents.yaml"
        old = target.read_bytes()
        argv = ["ingest", str(article), "--add"]
    else:  # curated facts replaced with --overwrite
        review = tmp_path / "review.yaml"
        made = CliRunner().invoke(main, ["ingest", str(article), "--add", "--review", str(review)])
        assert made.exit_code == 0, made.output
        target = project_copy.facts / "005.yaml"
        old = b"# accepted before, and curated by hand since\n" * 50 + review.read_bytes()
        target.write_bytes(old)
        argv = ["ingest", "--accept", str(review), "--overwrite"]
    done = run_killed(target, "mid-write", *argv, env=dict(os.environ))
    assert done.returncode == -9, done.stderr[-2000:]
    if old is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == old, f"ingest --{option} killed while writing: a torn file"


def test_a_review_file_never_replaces_an_existing_file(project_copy: Project, built: BuildResult, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import kgtool.ingest as ingest

    monkeypatch.setenv("KGTOOL_PROJECT", str(project_copy.root))
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    curated = project_copy.facts / "001.yaml"
    before = curated.read_bytes()
    result = CliRunner().invoke(main, ["ingest", str(article), "--review", str(curated)])
    assert result.exit_code == 3, result.output
    assert "001.yaml: exists already" in result.stderr and "Traceback" not in result.stderr
    assert curated.read_bytes() == before
    assert sorted(p.name for p in project_copy.facts.iterdir() if p.name.startswith(".")) == []
    found = ingest_file(article, graph=built.graph, doc_id="005")
    review = tmp_path / "review.yaml"
    real = ingest.review_yaml

    def racing_review_yaml(*args: object, **kwargs: object) -> str:  # an editor saves the file after the check
        review.write_text("# being edited\n", encoding="utf-8")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "review_yaml", racing_review_yaml)
    with pytest.raises(BadInputError, match="exists already"):
        write_review(found, review)
    assert review.read_text(encoding="utf-8") == "# being edited\n"
    monkeypatch.setattr(ingest, "review_yaml", real)
    write_review(found, review, overwrite=True)  # asked for: replaced
    assert "005" in review.read_text(encoding="utf-8")


@pytest.mark.parametrize("edited", [False, True], ids=["untouched", "edited-meanwhile"])
def test_add_undoes_its_entry_only_while_the_file_holds_what_it_wrote(edited: bool, project_copy: Project,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import kgtool.ingest as ingest

    documents = project_copy.data / "documents.yaml"
    original = documents.read_text(encoding="utf-8")
    real = ingest.load_curated

    def failing_load_curated(*args: object) -> object:  # the check after --add wrote its entry fails
        text = documents.read_text(encoding="utf-8")
        if text == original:
            return real(*args)  # type: ignore[arg-type]
        if edited:  # a curator saves the file (with kgtool's entry) while kgtool checks it
            documents.write_text(text + "  # checked by hand\n", encoding="utf-8")
        raise BadInputError("the new entry does not load")

    monkeypatch.setattr(ingest, "load_curated", failing_load_curated)
    with pytest.raises(BadInputError, match="does not load"):
        add_document(ARTICLE, project_copy)
    after = documents.read_text(encoding="utf-8")
    if edited:
        assert after.endswith("  # checked by hand\n") and after.startswith(original)  # their edit is kept
    else:
        assert after == original
    assert not list(project_copy.sources.glob("005_*.txt"))
