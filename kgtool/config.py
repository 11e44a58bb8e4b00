"""Where a kgtool project keeps its files."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Project:
    """The folders of one kgtool project, relative to its root."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "corpus" / "sources"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def facts(self) -> Path:
        return self.data / "facts"

    @property
    def ontology(self) -> Path:
        return self.root / "ontology"

    @property
    def shapes(self) -> Path:
        return self.root / "shapes"

    @property
    def queries(self) -> Path:
        return self.root / "queries"

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def lint_config(self) -> Path:
        return self.root / "lint.yaml"

    @property
    def built_graph(self) -> Path:
        return self.dist / "kgtool.ttl"


def find_project(start: Path | None = None) -> Project:
    """The project at $KGTOOL_PROJECT, else the nearest folder upwards holding `ontology/` and `data/`."""
    env = os.environ.get("KGTOOL_PROJECT")
    if env:
        return Project(Path(env).resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "ontology").is_dir() and (folder / "data").is_dir():
            return Project(folder)
    return Project(Path(__file__).resolve().parent.parent)
