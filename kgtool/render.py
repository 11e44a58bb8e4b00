"""Turn results and reports into text for people and machines."""
from __future__ import annotations

import csv
import io
import json

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .coverage import CoverageReport, Status
from .queries import QueryResult


def term_text(term: Node | None, graph: Graph | None = None) -> str:
    """A term as a person reads it: prefixed IRIs, literal values."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return graph.namespace_manager.normalizeUri(term) if graph is not None else str(term)
    return str(term)


def query_table(result: QueryResult, graph: Graph) -> str:
    """An aligned text table; IRIs shown as prefixed names with their labels beside them."""
    if result.boolean is not None:
        return "yes" if result.boolean else "no"

    def cell(term: Node | None) -> str:
        text = term_text(term, graph)
        label = result.labels.get(term) if term is not None else None
        return f"{text} ({label})" if label and isinstance(term, URIRef) else text

    rows = [[cell(t) for t in row] for row in result.rows]
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(result.variables)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out = [line(list(result.variables)), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def query_csv(result: QueryResult) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow(["" if t is None else str(t) for t in row])
    return stream.getvalue()


def query_json(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results JSON."""
    if result.boolean is not None:
        return json.dumps({"head": {}, "boolean": result.boolean}, indent=2)

    def binding(term: Node) -> dict[str, str]:
        if isinstance(term, URIRef):
            return {"type": "uri", "value": str(term)}
        if isinstance(term, Literal):
            out = {"type": "literal", "value": str(term)}
            if term.language:
                out["xml:lang"] = term.language
            elif term.datatype:
                out["datatype"] = str(term.datatype)
            return out
        return {"type": "bnode", "value": str(term)}

    bindings = [{v: binding(t) for v, t in zip(result.variables, row) if t is not None} for row in result.rows]
    return json.dumps({"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}, indent=2)


def coverage_text(report: CoverageReport, *, show_all: bool = False) -> str:
    lines = []
    for mention in report.numbers:
        if show_all or mention.status is Status.MISSING:
            lines.append(f"{mention.doc_id}:{mention.span.start}-{mention.span.end}  number {mention.text!r}  "
                         f"{mention.status.value}  {'; '.join(mention.by)}")
    if show_all:
        for mention in report.mentions:
            lines.append(f"{mention.doc_id}:{mention.span.start}-{mention.span.end}  mention {mention.text!r} "
                         f"-> kgr:{mention.entity}  {mention.status.value}")
    count = lambda items, status: sum(1 for m in items if m.status is status)  # noqa: E731
    numbers, mentions = report.numbers, report.mentions
    lines.append(f"numbers: {len(numbers)} ({count(numbers, Status.CAPTURED)} captured, "
                 f"{count(numbers, Status.WAIVED)} waived, {count(numbers, Status.MISSING)} missing)")
    lines.append(f"known-entity mentions: {len(mentions)} ({count(mentions, Status.CAPTURED)} inside a claim's "
                 f"quote, {count(mentions, Status.MISSING)} only in context)")
    return "\n".join(lines)


def coverage_json(report: CoverageReport) -> str:
    item = lambda m, kind: {"kind": kind, "document": m.doc_id, "start": m.span.start, "end": m.span.end,  # noqa: E731
                            "text": m.text, "status": m.status.value, "by": list(m.by), "entity": m.entity}
    return json.dumps([item(m, "number") for m in report.numbers] + [item(m, "mention") for m in report.mentions],
                      indent=2, ensure_ascii=False)
