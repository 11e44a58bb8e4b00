"""What changed between two graphs: triples added and removed, and values changed, by subject.

The comparison is semantic: two graphs that are isomorphic (the same triples up to blank-node
labels) are equal, whatever their serialisation or order; blank nodes are compared by content
(rdflib.compare.graph_diff canonicalises both graphs first). A subject and predicate that lost
some objects and gained others is reported as a changed value, not as an addition and a removal.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.compare import graph_diff
from rdflib.term import Node

from .errors import BadInputError
from .namespaces import RDFS, SKOS
from .rdfio import parse_into
from .store import new_graph

Triple = tuple[Node, Node, Node]
RELEASE_GRAPH = "kgtool.nt"  # the merged graph in a release folder, the one `diff` reads
TEXT_LITERAL_LIMIT = 160


@dataclass(frozen=True)
class PropertyChange:
    """The objects one predicate of one subject lost and gained."""

    predicate: URIRef
    removed: tuple[Node, ...]
    added: tuple[Node, ...]

    @property
    def kind(self) -> str:
        """"changed" (lost and gained objects), "added" or "removed"."""
        if self.removed and self.added:
            return "changed"
        return "added" if self.added else "removed"


@dataclass(frozen=True)
class SubjectChange:
    """Everything that changed about one subject; `status` is "added" (a new subject), "removed"
    (no longer a subject) or "changed"."""

    subject: Node
    label: str | None
    status: str
    changes: tuple[PropertyChange, ...]


@dataclass(frozen=True)
class GraphDiff:
    """The difference from an old graph to a new one."""

    old_triples: int
    new_triples: int
    added: frozenset[Triple]
    removed: frozenset[Triple]
    subjects: tuple[SubjectChange, ...]

    @property
    def equal(self) -> bool:
        """True when the graphs are isomorphic."""
        return not self.added and not self.removed

    @property
    def changed_values(self) -> tuple[tuple[Node, PropertyChange], ...]:
        """(subject, change) for every predicate whose objects changed."""
        return tuple((s.subject, c) for s in self.subjects for c in s.changes if c.kind == "changed")

    def summary(self) -> str:
        if self.equal:
            return f"no differences: the graphs are isomorphic ({self.new_triples} triples)"
        status = [s.status for s in self.subjects]
        return (f"{len(self.added)} triples added, {len(self.removed)} removed "
                f"(old {self.old_triples} triples, new {self.new_triples}); subjects: "
                f"{status.count('added')} added, {status.count('removed')} removed, {status.count('changed')} changed")

    def text(self) -> str:
        """For people: one block per subject, `~` a changed value, `+` added, `-` removed."""
        name = new_graph().namespace_manager
        lines = [self.summary()]
        for subject in self.subjects:
            label = f"  \"{subject.label}\"" if subject.label else ""
            lines.append("")
            lines.append(f"{subject.status} {_show(subject.subject, name)}{label}")
            for change in subject.changes:
                predicate = _show(change.predicate, name)
                if change.kind == "changed":
                    old = ", ".join(_show(o, name) for o in change.removed)
                    new = ", ".join(_show(o, name) for o in change.added)
                    lines.append(f"  ~ {predicate}: {old} -> {new}")
                    continue
                sign = "+" if change.kind == "added" else "-"
                for value in change.added or change.removed:
                    lines.append(f"  {sign} {predicate} {_show(value, name)}")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """For machines: terms in the SPARQL 1.1 JSON results form ({"type": "uri", "value": ...})."""
        return {
            "equal": self.equal,
            "old_triples": self.old_triples,
            "new_triples": self.new_triples,
            "added_triples": len(self.added),
            "removed_triples": len(self.removed),
            "subjects": [
                {"subject": _term_json(s.subject), "label": s.label, "status": s.status,
                 "changes": [{"predicate": str(c.predicate), "kind": c.kind,
                              "removed": [_term_json(o) for o in c.removed],
                              "added": [_term_json(o) for o in c.added]} for c in s.changes]}
                for s in self.subjects],
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _sort_key(term: Node) -> str:
    return term.n3()


def _show(term: Node, names: Any) -> str:
    """A term on one line: prefixed names, literals escaped like Turtle and shortened past a limit."""
    if not isinstance(term, Literal):
        return str(term.n3(names))
    text = str(term)
    shown = text if len(text) <= TEXT_LITERAL_LIMIT else text[:TEXT_LITERAL_LIMIT] + "…"
    shown = shown.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    suffix = f"@{term.language}" if term.language else f"^^{names.normalizeUri(term.datatype)}" if term.datatype else ""
    more = f" ({len(text)} characters)" if len(text) > TEXT_LITERAL_LIMIT else ""
    return f'"{shown}"{suffix}{more}'


def _term_json(term: Node) -> dict[str, str]:
    if isinstance(term, Literal):
        found: dict[str, str] = {"type": "literal", "value": str(term)}
        if term.language:
            found["xml:lang"] = term.language
        elif term.datatype:
            found["datatype"] = str(term.datatype)
        return found
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    return {"type": "uri", "value": str(term)}


def _label(subject: Node, *graphs: Graph) -> str | None:
    if not isinstance(subject, URIRef):
        return None
    for graph in graphs:
        for predicate in (RDFS.label, SKOS.prefLabel):
            value = graph.value(subject, predicate, any=True)
            if value is not None:
                return str(value)
    return None


def diff_graphs(old: Graph, new: Graph) -> GraphDiff:
    """Compare two graphs semantically (blank nodes by content) and group the difference by subject."""
    _, only_old, only_new = graph_diff(old, new)
    removed = frozenset(only_old)
    added = frozenset(only_new)
    by_subject: dict[Node, dict[Node, tuple[set[Node], set[Node]]]] = {}
    for (s, p, o), side in [*((t, 0) for t in removed), *((t, 1) for t in added)]:
        by_subject.setdefault(s, {}).setdefault(p, (set(), set()))[side].add(o)
    removed_subjects = {s for s, _, _ in removed}
    added_subjects = {s for s, _, _ in added}
    subjects = []
    for subject in sorted(by_subject, key=_sort_key):
        changes = tuple(PropertyChange(p, tuple(sorted(lost, key=_sort_key)), tuple(sorted(gained, key=_sort_key)))  # type: ignore[arg-type]
                        for p, (lost, gained) in sorted(by_subject[subject].items(), key=lambda item: _sort_key(item[0])))
        if subject in added_subjects and not _is_subject(subject, old):
            status = "added"
        elif subject in removed_subjects and not _is_subject(subject, new):
            status = "removed"
        else:
            status = "changed"
        subjects.append(SubjectChange(subject, _label(subject, new, old), status, changes))
    return GraphDiff(len(old), len(new), added, removed, tuple(subjects))


def _is_subject(term: Node, graph: Graph) -> bool:
    if isinstance(term, BNode):  # canonical labels differ from the graph's own: judged by the diff alone
        return False
    return (term, None, None) in graph


def load_graph_any(path: Path) -> Graph:
    """A graph from an RDF file (by suffix; N-Quads and TriG are merged into one graph) or from a
    release folder (its merged graph, kgtool.nt)."""
    if path.is_dir():
        merged = path / RELEASE_GRAPH
        if not merged.is_file():
            raise BadInputError(f"not a release folder: no {RELEASE_GRAPH}", path=path,
                                hint="give a release folder (dist/X.Y.Z) or an RDF file")
        path = merged
    if not path.exists():
        raise BadInputError("no such file or folder", path=path)
    if path.suffix.lower() in (".nq", ".trig"):
        dataset = Dataset()
        parse_into(dataset, path)
        graph = new_graph()
        for s, p, o, _ in dataset.quads((None, None, None, None)):
            graph.add((s, p, o))
        return graph
    graph = new_graph()
    parse_into(graph, path)
    return graph


def diff_paths(old: Path, new: Path) -> GraphDiff:
    """`diff_graphs` of two RDF files or release folders."""
    return diff_graphs(load_graph_any(old), load_graph_any(new))
