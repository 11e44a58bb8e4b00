"""Persistent Oxigraph stores: the built graph cached on disk, and stores that users fill with their own data.

`built_store(project)` gives the shipped graph without rebuilding it when nothing it is built from has
changed (the bytes of data/, ontology/, corpus/sources/ and of kgtool's own code, hashed). The cache is
the folder `.cache/store/` of the project (or one under $KGTOOL_CACHE); deleting it is always safe.

`fill_store(path, ...)` writes a store a user names (`--store PATH`): the built graph or RDF files,
loaded into a new folder beside it that then takes its place, so a failed load leaves the old store.
"""
from __future__ import annotations

import errno
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
from .rdfio import exchange_paths, sync_folder
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
        _put_in_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap, this is the old store


def _put_in_place(staging: Path, folder: Path) -> None:
    """Make the filled store `staging` the one at `folder` so that a process killed at any moment leaves a
    whole store there, the old or the new: a first store is renamed into place (one step); an existing
    one is swapped with it in one step (rdfio.exchange_paths, Linux renameat2), leaving the old store
    at `staging` for the caller to remove. Where the system cannot swap in one step, exchange_paths
    falls back to renames, and a crash between them leaves the old store under a hidden name beside it."""
    if folder.exists():
        exchange_paths(staging, folder)
        return
    try:
        os.rename(staging, folder)  # onto nothing, or an empty folder
    except OSError as error:  # a store another process wrote meanwhile: replace it as above
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        exchange_paths(staging, folder)
    else:
        sync_folder(folder.parent)


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

    With `append`, the files are added to what the store holds; otherwise they replace it. Beside the data
    (the default graph, which queries and exports read), the store keeps a verbatim copy of every literal
    whose form Oxigraph changes ("05"^^xsd:nonNegativeInteger is stored as "5"^^xsd:integer) in a named
    graph of validation's own (`kgtool.shacl_sparql.verbatim_copies`), so that `kgtool validate --store`
    judges the data as written. The new store is filled in a folder beside `path` and put in place
    whole (`_write`)."""
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
    filled = path.with_name(f".{path.name}.{os.getpid()}.filling")
    shutil.rmtree(filled, ignore_errors=True)
    try:
        _fill(filled, graph, list(files), keep)
        _write(path, None, [], about, keep=filled)
    finally:
        shutil.rmtree(filled, ignore_errors=True)
        filled.with_name(filled.name + ".nt").unlink(missing_ok=True)
    return Store.read_only(path)


def _fill(folder: Path, graph: Graph | None, files: list[Path], keep: Path | None) -> None:
    """The new store's contents, in `folder`: a copy of the old store (`keep`), then each source's triples
    in the default graph and the verbatim copies of its literals, both from one reading of it, with the
    same blank-node labels (`Store.load` keeps a file's). The store is marked as keeping every copy unless
    it extends an old store that did not."""
    from .shacl_sparql import keeps_verbatim, language_cases, mark_verbatim, read_ntriples, verbatim_copies

    if keep is not None:
        shutil.copytree(keep, folder)
    scratch = folder.with_name(folder.name + ".nt")  # a source other than N-Triples, as N-Triples
    store = Store.on_disk(folder)
    complete = keep is None or len(store) == 0 or keeps_verbatim(store.oxigraph)
    sources: list[Path | Graph] = [graph] if graph is not None else list(files)
    for number, source in enumerate(sources):
        prefix = f"f{number}" if len(sources) > 1 or keep is not None else ""
        raw = None
        if isinstance(source, Path):
            try:
                raw = source.read_bytes()  # as written: language tags keep their case
            except OSError as error:
                raise BadInputError(f"cannot read the file: {error}", path=source) from None
        if isinstance(source, Path) and source.suffix.lower() == ".nt":
            store.load(source, label_prefix=prefix)  # N-Triples errors name the file and line
            data = raw
        else:
            data = read_ntriples(source) if isinstance(source, Path) else _graph_ntriples(source)
            scratch.write_bytes(data)
            store.load(scratch, label_prefix=prefix)
        assert data is not None
        store.oxigraph.extend(verbatim_copies(data, label_prefix=prefix))
        store.oxigraph.extend(language_cases(raw if raw is not None else data))
    if complete:
        mark_verbatim(store.oxigraph)
    store.flush()


def _graph_ntriples(graph: Graph) -> bytes:
    """An rdflib graph as N-Triples (blank nodes under their rdflib ids)."""
    return graph.serialize(format="nt", encoding="utf-8")


def open_store(path: Path) -> Store:
    """A store that `fill_store` (or `kgtool build --store`) wrote, opened for reading."""
    return Store.read_only(path)
