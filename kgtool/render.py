"""Turn results and reports into text for people and machines."""
from __future__ import annotations

import csv
import io
import json

from typing import TYPE_CHECKING

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .coverage import CoverageReport, Mention, Status
from .namespaces import RDFS
from .queries import QueryResult
from .store import new_graph

if TYPE_CHECKING:
    from .lint import LintReport
    from .queries import SavedQuery
    from .validate import ValidationReport, ValidationResult


def term_text(term: Node | None, graph: Graph | None = None) -> str:
    """A term as a person reads it: prefixed IRIs, literal values."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return graph.namespace_manager.normalizeUri(term) if graph is not None else str(term)
    return str(term)


ROW_FORMATS = ("table", "csv", "tsv", "json", "xml", "markdown")
"""Output formats for SELECT and ASK answers (the first is the default)."""
GRAPH_FORMATS = ("turtle", "jsonld")
"""Output formats for CONSTRUCT and DESCRIBE answers (the first is the default)."""
_XSD = "http://www.w3.org/2001/XMLSchema#"


def _labelled(term: Node | None, result: QueryResult, graph: Graph | None) -> str:
    """A cell as a person reads it: prefixed name with its label beside it, or the literal's text."""
    if graph is None:
        graph = new_graph()
    text = " ".join(term_text(term, graph).split()) if isinstance(term, Literal) else term_text(term, graph)
    label = result.labels.get(term) if term is not None else None
    return f"{text} ({label})" if label and isinstance(term, URIRef) else text


def query_table(result: QueryResult, graph: Graph | None = None) -> str:
    """An aligned text table; IRIs shown as prefixed names with their labels beside them."""
    if result.boolean is not None:
        return "true" if result.boolean else "false"
    rows = [[_labelled(t, result, graph) for t in row] for row in result.rows]
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(result.variables)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    out = [line(list(result.variables)), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def query_markdown(result: QueryResult, graph: Graph | None = None) -> str:
    """A Markdown (GitHub) table, cells as in the text table."""
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") or " "

    if result.boolean is not None:
        return "| answer |\n| --- |\n| " + ("true" if result.boolean else "false") + " |"
    lines = ["| " + " | ".join(result.variables) + " |", "|" + " --- |" * len(result.variables)]
    for row in result.rows:
        lines.append("| " + " | ".join(cell(_labelled(t, result, graph)) for t in row) + " |")
    return "\n".join(lines)


def query_csv(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results CSV: IRIs and literals as plain text, blank nodes as _:label, CRLF lines.
    (The format has no boolean; an ASK answer is a one-column table `_askResult`.)"""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    if result.boolean is not None:
        writer.writerows([["_askResult"], ["true" if result.boolean else "false"]])
        return stream.getvalue()
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow(["" if t is None else f"_:{t}" if isinstance(t, BNode) else str(t) for t in row])
    return stream.getvalue()


def _tsv_term(term: Node | None) -> str:
    """A term in SPARQL syntax for TSV: <iri>, "literal"@lang or "literal"^^<datatype>, _:label."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    assert isinstance(term, Literal)
    escaped = (str(term).replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
               .replace("\n", "\\n").replace("\r", "\\r"))
    if term.language:
        return f'"{escaped}"@{term.language}'
    if term.datatype is not None:
        return f'"{escaped}"^^<{term.datatype}>'
    return f'"{escaped}"'


def query_tsv(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results TSV: a header of ?variables, terms in SPARQL syntax, LF lines."""
    if result.boolean is not None:
        return "?_askResult\n" + ("true" if result.boolean else "false") + "\n"
    lines = ["\t".join(f"?{v}" for v in result.variables)]
    lines += ["\t".join(_tsv_term(t) for t in row) for row in result.rows]
    return "\n".join(lines) + "\n"


def _json_term(term: Node) -> dict[str, str]:
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


def query_json(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results JSON."""
    if result.boolean is not None:
        return json.dumps({"head": {}, "boolean": result.boolean}, indent=2)
    bindings = [{v: _json_term(t) for v, t in zip(result.variables, row) if t is not None} for row in result.rows]
    return json.dumps({"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}},
                      indent=2, ensure_ascii=False)


def query_xml(result: QueryResult) -> str:
    """SPARQL Query Results XML."""
    from xml.sax.saxutils import escape, quoteattr

    out = ['<?xml version="1.0" encoding="utf-8"?>', '<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
           "  <head>"]
    out += [f"    <variable name={quoteattr(v)}/>" for v in result.variables]
    out.append("  </head>")
    if result.boolean is not None:
        out.append(f"  <boolean>{'true' if result.boolean else 'false'}</boolean>")
    else:
        out.append("  <results>")
        for row in result.rows:
            out.append("    <result>")
            for name, term in zip(result.variables, row):
                if term is None:
                    continue
                if isinstance(term, URIRef):
                    value = f"<uri>{escape(str(term))}</uri>"
                elif isinstance(term, Literal):
                    attribute = (f" xml:lang={quoteattr(term.language)}" if term.language else
                                 f" datatype={quoteattr(str(term.datatype))}" if term.datatype else "")
                    value = f"<literal{attribute}>{escape(str(term))}</literal>"
                else:
                    value = f"<bnode>{escape(str(term))}</bnode>"
                out.append(f"      <binding name={quoteattr(name)}>{value}</binding>")
            out.append("    </result>")
        out.append("  </results>")
    out.append("</sparql>")
    return "\n".join(out) + "\n"


def query_graph(result: QueryResult, out_format: str) -> bytes:
    """A CONSTRUCT or DESCRIBE answer as canonical Turtle or JSON-LD."""
    from .rdfio import RdfFormat, serialise

    assert result.graph is not None
    return serialise(result.graph, RdfFormat.TURTLE if out_format == "turtle" else RdfFormat.JSONLD)


def query_output(result: QueryResult, out_format: str | None, graph: Graph | None = None) -> bytes:
    """The answer in the format asked for (None: table for rows and booleans, Turtle for graphs).

    `graph` supplies prefixes for the table and Markdown; raises ValueError for a format that does not
    suit the answer's form."""
    if result.graph is not None:
        out_format = out_format or GRAPH_FORMATS[0]
        if out_format not in GRAPH_FORMATS:
            raise ValueError(f"a {result.form.value} query gives a graph: use --format "
                             + " or ".join(GRAPH_FORMATS))
        return query_graph(result, out_format)
    out_format = out_format or ROW_FORMATS[0]
    if out_format not in ROW_FORMATS:
        raise ValueError(f"a {result.form.value} query gives {'a boolean' if result.boolean is not None else 'rows'}: "
                         "use --format " + ", ".join(ROW_FORMATS))
    text = {"table": lambda: query_table(result, graph), "markdown": lambda: query_markdown(result, graph),
            "csv": lambda: query_csv(result), "tsv": lambda: query_tsv(result),
            "json": lambda: query_json(result), "xml": lambda: query_xml(result)}[out_format]()
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def query_list(queries: "list[SavedQuery]") -> str:
    """One line per saved query: name, title and parameters with their defaults."""
    lines = []
    for saved in queries:
        params = " ".join(f"[{p.name}={p.default or ''}]" for p in saved.parameters)
        lines.append(f"{saved.name:32} {saved.title} {params}".rstrip())
    return "\n".join(lines)


def query_description(saved: "SavedQuery") -> str:
    """What a saved query answers, its parameters with type and default, and its examples."""
    import textwrap
    from pathlib import Path

    lines = [f"{saved.name}: {saved.title}"]
    if saved.path is not None:
        try:
            shown = saved.path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            shown = saved.path
        lines.append(f"  file: {shown}")
    if saved.description:
        lines += ["", *textwrap.wrap(saved.description, 100)]
    lines.append("")
    if saved.parameters:
        lines.append("Parameters (--param NAME=VALUE):")
        width = max(len(p.name) for p in saved.parameters)
        for p in saved.parameters:
            default = f"default {p.default}" if p.default is not None else "no default"
            lines.append(f"  {p.name:{width}}  {p.type:7}  {default}")
            if p.description:
                lines.append(f"  {'':{width}}  {p.description}")
        if any(p.type == "iri" for p in saved.parameters):
            lines += textwrap.wrap("An iri parameter takes a prefixed name (kgr:russia), a full IRI (<https://...>) or "
                                   "an entity's label (\"Russia\"); a label that names no entity, or several, is an "
                                   "error.", 100, initial_indent="  ", subsequent_indent="  ")
    else:
        lines.append("Parameters: none")
    if saved.examples:
        lines += ["", "Example:" if len(saved.examples) == 1 else "Examples:"]
        lines += [f"  {example}" for example in saved.examples]
    return "\n".join(lines)


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
    def count(items: tuple[Mention, ...], status: Status) -> int:
        return sum(1 for m in items if m.status is status)

    numbers, mentions = report.numbers, report.mentions
    lines.append(f"numbers: {len(numbers)} ({count(numbers, Status.CAPTURED)} captured, "
                 f"{count(numbers, Status.WAIVED)} waived, {count(numbers, Status.MISSING)} missing)")
    lines.append(f"known-entity mentions: {len(mentions)} ({count(mentions, Status.CAPTURED)} inside a claim's "
                 f"quote, {count(mentions, Status.MISSING)} only in context)")
    return "\n".join(lines)


def coverage_json(report: CoverageReport) -> str:
    def item(m: Mention, kind: str) -> dict[str, object]:
        return {"kind": kind, "document": m.doc_id, "start": m.span.start, "end": m.span.end,
                "text": m.text, "status": m.status.value, "by": list(m.by), "entity": m.entity}

    return json.dumps([item(m, "number") for m in report.numbers] + [item(m, "mention") for m in report.mentions],
                      indent=2, ensure_ascii=False)


def _short(term: Node | None, graph: Graph) -> str:
    return "" if term is None else term_text(term, graph)


def validation_text(report: "ValidationReport", data: Graph, *, limit: int | None = None) -> str:
    """Results grouped by shape and severity, each focus node named by label and IRI, then counts."""
    from .validate import Severity

    lines: list[str] = []
    shown = report.results if limit is None else report.results[:limit]
    groups: dict[tuple[str, str], list[ValidationResult]] = {}
    for result in shown:
        groups.setdefault((result.severity.value, _short(result.source_shape, data)), []).append(result)
    for (severity, shape), results in groups.items():
        lines.append(f"{severity} {shape} ({len(results)})")
        for result in results:
            label = data.value(result.focus_node, RDFS.label) if isinstance(result.focus_node, URIRef) else None
            focus = _short(result.focus_node, data) + (f" ({label})" if label else "")
            path = f" {_short(result.result_path, data)}" if result.result_path is not None else ""
            value = f" = {_short(result.value, data)[:80]}" if result.value is not None else ""
            component = _short(result.source_constraint_component, data).replace("sh:", "")
            lines.append(f"  {focus}{path}{value}: {result.message} [{component}]")
    if limit is not None and len(report.results) > limit:
        lines.append(f"... {len(report.results) - limit} more results not shown (--max-violations {limit})")
    counts = ", ".join(f"{report.count(s)} {s.value.lower()}{'s' if report.count(s) != 1 else ''}" for s in Severity)
    verdict = "conforms" if report.conforms else (
        "fails" if report.count(Severity.VIOLATION) or report.count(Severity.WARNING) else "passes with infos only")
    lines.append(f"{verdict}: {counts}")
    return "\n".join(lines)


def validation_json(report: "ValidationReport") -> str:
    """A list of results under the SHACL names."""
    def text(term: Node | None) -> str | None:
        return None if term is None else str(term)

    return json.dumps([{
        "focusNode": text(r.focus_node), "resultPath": text(r.result_path), "value": text(r.value),
        "sourceShape": text(r.source_shape), "sourceConstraintComponent": text(r.source_constraint_component),
        "resultSeverity": str(r.severity.iri), "resultMessage": r.message,
    } for r in report.results], indent=2, ensure_ascii=False)


def validation_junit(report: "ValidationReport", data: Graph) -> str:
    """JUnit XML: one test case per shape, a failure per Violation or Warning, so CI shows them."""
    from xml.sax.saxutils import quoteattr

    shapes: dict[str, list[ValidationResult]] = {}
    for result in report.results:
        shapes.setdefault(_short(result.source_shape, data), []).append(result)
    failing = [r for r in report.results if r.severity.value != "Info"]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<testsuite name="kgtool validate" tests="{max(len(shapes), 1)}" failures="{len(failing)}">']
    if not shapes:
        out.append('  <testcase classname="shacl" name="conforms"/>')
    for shape, results in sorted(shapes.items()):
        out.append(f'  <testcase classname="shacl" name={quoteattr(shape)}>')
        for r in results:
            if r.severity.value == "Info":
                continue
            message = f"{_short(r.focus_node, data)} {_short(r.result_path, data)}: {r.message}"
            out.append(f'    <failure type={quoteattr(r.severity.value)} message={quoteattr(message)}/>')
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def lint_text(report: "LintReport") -> str:
    from .lint import Level

    lines = [f"{f.level.value:5} {f.check}: {f.message}" for f in report.findings]
    lines.append(", ".join(f"{report.count(level)} {level.value}" for level in Level))
    return "\n".join(lines)


def lint_json(report: "LintReport") -> str:
    return json.dumps([{"level": f.level.value, "check": f.check, "subject": str(f.subject), "message": f.message}
                       for f in report.findings], indent=2, ensure_ascii=False)
