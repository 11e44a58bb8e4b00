"""Persistent Oxigraph stores: the built graph cached on disk, and stores that users fill with their own data.

`built_store(project)` gives the shipped graph without rebuilding it when nothing it is built from has
changed (the bytes of data/, ontology/, corpus/sources/ and of kgtool's own code, hashed). The cache is
the folder `.cache/store/` of the project (or one under $KGTOOL_CACHE); deleting it is always safe.

`fill_store(path, ...)` writes a store a user names (`--store PATH`): the built graph or RDF files,
loaded into a new folder beside it that then takes its place, so a failed load leaves the old store.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rdflib import Graph

from .build import build
from .config import Project
from .errors import BadInputError
from .store import Store

_CODE = Path(__file__).resolve().parent


def _kgtool_version() -> str:
    try:
        return version("kgtool")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "unknown"


def _hash_files(digest: Any, root: Path, folders: Sequence[Path]) -> None:
    for folder in folders:
        if not folder.exists():
            continue
        files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


def input_fingerprint(project: Project) -> dict[str, str]:
    """What the built graph depends on: a hash of its input files and of kgtool's code, and the version."""
    inputs = hashlib.sha256()
    _hash_files(inputs, project.root, [project.data, project.ontology, project.sources])
    code = hashlib.sha256()
    _hash_files(code, _CODE, [_CODE])
    return {"inputs": inputs.hexdigest(), "code": code.hexdigest(), "kgtool": _kgtool_version()}


def cache_folder(project: Project) -> Path:
    """`.cache/store/` in the project, or under $KGTOOL_CACHE (one folder per project) when it is set."""
    elsewhere = os.environ.get("KGTOOL_CACHE")
    if elsewhere:
        tag = hashlib.sha256(str(project.root.resolve()).encode("utf-8")).hexdigest()[:16]
        return Path(elsewhere) / f"store-{tag}"
    return project.root / ".cache" / "store"


def _current(folder: Path, fingerprint: dict[str, str]) -> Store | None:
    if not (folder / "CURRENT").is_file():
        return None
    try:
        store = Store.read_only(folder)
    except BadInputError:
        return None
    recorded = store.fingerprint or {}
    return store if all(recorded.get(key) == value for key, value in fingerprint.items()) else None


def _write(folder: Path, graph: Graph | None, files: Sequence[Path], about: dict[str, Any],
           *, keep: Path | None = None) -> None:
    """Fill a new store beside `folder`, then put it in its place (the old one stays on any failure)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.new")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if keep is not None:
            shutil.copytree(keep, staging)
        store = Store.on_disk(staging)
        if graph is not None:
            store.add_graph(graph)
        for number, path in enumerate(files):
            store.load(path, label_prefix=f"f{number}" if len(files) > 1 or keep is not None else "")
        store.set_fingerprint({**about, "triples": len(store)})
        store.flush()
        del store  # closes the store before it moves
        old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def built_store(project: Project, *, graph: Graph | None = None) -> Store:
    """The shipped graph in the project's cache store, rebuilt first when its inputs have changed.

    `graph`, when given, is the graph just built from the current inputs (saves building it again)."""
    folder = cache_folder(project)
    fingerprint = input_fingerprint(project)
    if graph is None:
        found = _current(folder, fingerprint)
        if found is not None:
            return found
        graph = build(project).graph
    _write(folder, graph, [], fingerprint)
    return Store.read_only(folder)


def fill_store(path: Path, *, project: Project | None = None, files: Sequence[Path] = (),
               graph: Graph | None = None, append: bool = False) -> Store:
    """Write the persistent store at `path`: the RDF `files`, or with none the built graph of `project`
    (`graph`, when given, is that graph already built).

    With `append`, the files are added to what the store holds; otherwise they replace it."""
    if path.exists() and not (path / "CURRENT").is_file() and any(path.iterdir()):
        raise BadInputError("this folder is not a kgtool store and is not empty: refusing to replace it",
                            path=path, hint="give a new folder, or an existing store")
    for file in files:
        if not file.is_file():
            raise BadInputError("no such file", path=file)
    about: dict[str, Any] = {"kgtool": _kgtool_version(), "files": [str(f) for f in files]}
    if files:
        graph = None
    else:
        if project is None:
            raise BadInputError("nothing to load: give RDF files, or a project to build")
        graph = graph if graph is not None else build(project).graph
        about.update(input_fingerprint(project))
    keep = path if append and (path / "CURRENT").is_file() else None
    _write(path, graph, list(files), about, keep=keep)
    return Store.read_only(path)


def open_store(path: Path) -> Store:
    """A store that `fill_store` (or `kgtool build --store`) wrote, opened for reading."""
    return Store.read_only(path)
