"""Pictures of the graph: the control network and any CONSTRUCT answer drawn by Graphviz, and a chart
of every quantitative claim for one measure drawn by matplotlib.

Everything is read with SPARQL through `queries.run_sparql`, values bound, never spliced. The same
graph gives the same bytes: DOT is sorted, Graphviz writes no date, and matplotlib is told to write
neither a date nor random ids (`svg.hashsalt`, `metadata`).
"""
from __future__ import annotations

import io
import shutil
import subprocess
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .errors import BadInputError, ExternalComponentError
from .namespaces import KG, KGV, ORG, RDF, RDFS, SKOS, short_name
from .queries import Parameter, SavedQuery, resolve_value, run_saved_query, run_sparql
from .store import Store, Target

FONT = "DejaVu Sans"
DOT_TIMEOUT = 60.0
MAX_DRAWN_NODES = 400
LABEL_WIDTH = 26


class ImageFormat(str, Enum):
    """What a picture is written as: Graphviz's source, SVG or PNG."""

    DOT = "dot"
    SVG = "svg"
    PNG = "png"

    @classmethod
    def for_path(cls, path: Path, *, allowed: tuple[ImageFormat, ...] | None = None) -> ImageFormat:
        """The format a file name asks for (.svg, .png, .dot or .gv), among the `allowed` ones (default: all)."""
        allowed = allowed or tuple(cls)
        suffix = path.suffix.lower().lstrip(".")
        found = cls.DOT if suffix == "gv" else next((f for f in cls if f.value == suffix), None)
        if found is None or found not in allowed:
            names = ", ".join(f".{f.value}" for f in allowed)
            raise BadInputError(f"cannot tell the picture format from {path.name!r}",
                                hint=f"name the file {names}, or give --format")
        return found


@dataclass(frozen=True)
class Picture:
    """A drawing's bytes, its format and a one-line account of what it shows."""

    data: bytes
    format: ImageFormat
    summary: str


# ---- node kinds: how an entity is drawn --------------------------------------------------------------

@dataclass(frozen=True)
class NodeStyle:
    shape: str
    fill: str
    style: str = "filled"


# Most specific first: an entity is drawn as the first kind whose class it is an instance of.
KIND_STYLES: tuple[tuple[URIRef, str, NodeStyle], ...] = (
    (KG.StateCorporation, "state corporation", NodeStyle("box", "#ffd966", "filled,bold")),
    (KG.State, "state", NodeStyle("box", "#f4b6b6", "filled,bold")),
    (KG.SupranationalUnion, "union of states", NodeStyle("box", "#f4b6b6", "filled")),
    (KG.GovernmentBody, "government body", NodeStyle("box", "#f9d9d9", "filled")),
    (KG.Company, "company", NodeStyle("box", "#cfe2f3", "filled")),
    (KG.Organisation, "organisation", NodeStyle("box", "#cfe2f3", "filled")),
    (KG.AgentGroup, "group of agents", NodeStyle("box", "#eeeeee", "filled,dashed")),
    (KG.Person, "person", NodeStyle("ellipse", "#ffffff", "filled")),
    (KG.Deposit, "deposit", NodeStyle("box", "#e6cfa7", "filled,diagonals")),
    (KG.Facility, "facility", NodeStyle("component", "#d9ead3", "filled")),
    (KG.Project, "project", NodeStyle("box", "#ead1dc", "filled,rounded")),
)
OTHER_STYLE = NodeStyle("box", "#f3f3f3", "filled,rounded")

_LABELS = """
SELECT ?node ?property ?label WHERE {
  VALUES ?property { rdfs:label skos:prefLabel }
  ?node ?property ?label .
}
"""
_TYPES = "SELECT ?node ?type WHERE { ?node a ?type }"
_SUPERCLASSES = "SELECT ?class ?super WHERE { ?class rdfs:subClassOf ?super }"


@dataclass(frozen=True)
class DrawnNode:
    label: str
    kind: str
    style: NodeStyle


def _label_rank(prop: Node, label: Literal) -> tuple[int, int, str, str]:
    """rdfs:label before skos:prefLabel; English, then no language, then the others; then the text."""
    language = label.language or ""
    return (0 if prop == RDFS.label else 1, 0 if language == "en" else 1 if not language else 2, language, str(label))


@dataclass(frozen=True)
class Legend:
    """What a drawing needs to know of every node: its best label and the kind it is drawn as."""

    labels: Mapping[Node, str]
    kinds: Mapping[Node, tuple[str, NodeStyle]]

    def label(self, node: Node) -> str:
        return self.labels.get(node) or short_name(node)

    def drawn(self, node: Node) -> DrawnNode:
        kind, style = self.kinds.get(node, ("", OTHER_STYLE))
        return DrawnNode(self.label(node), kind, style)


def read_legend(graph: Target) -> Legend:
    """Labels and kinds of every node of the graph, in three queries (the class hierarchy is closed here)."""
    best: dict[Node, tuple[tuple[int, int, str, str], str]] = {}
    for node, prop, label in run_sparql(graph, _LABELS).rows:
        if node is not None and prop is not None and isinstance(label, Literal):
            rank = _label_rank(prop, label)
            if node not in best or rank < best[node][0]:
                best[node] = (rank, str(label))
    supers: dict[Node, set[Node]] = defaultdict(set)
    for cls, parent in run_sparql(graph, _SUPERCLASSES).rows:
        if cls is not None and parent is not None:
            supers[cls].add(parent)

    def closure(cls: Node) -> set[Node]:
        seen, todo = {cls}, [cls]
        while todo:
            for parent in supers.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    ancestors: dict[Node, set[Node]] = {}
    classes: dict[Node, set[Node]] = defaultdict(set)
    for node, cls in run_sparql(graph, _TYPES).rows:
        if node is not None and cls is not None:
            if cls not in ancestors:
                ancestors[cls] = closure(cls)
            classes[node] |= ancestors[cls]
    kinds = {}
    for node, its_classes in classes.items():
        for cls, name, style in KIND_STYLES:
            if cls in its_classes:
                kinds[node] = (name, style)
                break
    return Legend({node: label for node, (_, label) in best.items()}, kinds)


# ---- DOT text ------------------------------------------------------------------------------------------

def dot_string(text: str) -> str:
    """A DOT quoted string holding `text` literally: backslashes, quotes and ampersands escaped (so no
    \\N-style escape or HTML entity can come from the graph), line breaks as DOT's centred \\n."""
    escaped = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "\\n".join(escaped.splitlines() or [""]) + '"'


def _wrap(text: str, width: int = LABEL_WIDTH) -> str:
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False) or [text])


def _node_line(node_id: str, drawn: DrawnNode, extra: Sequence[str] = ()) -> str:
    label = _wrap(drawn.label)
    if drawn.kind:
        label += f"\n({drawn.kind})"
    for line in extra:
        label += "\n" + line
    style = drawn.style
    attributes = [f"label={dot_string(label)}", f"shape={style.shape}", f'fillcolor="{style.fill}"']
    if style.style:
        attributes.append(f'style="{style.style}"')
    return f"  {node_id} [{', '.join(attributes)}];"


def _dot_document(title: str, node_lines: Sequence[str], edge_lines: Sequence[str], legend: str) -> str:
    head = [
        "digraph kgtool {",
        f"  graph [label={dot_string(title + (chr(10) + legend if legend else ''))}, labelloc=t, fontsize=16, "
        f'fontname="{FONT}", rankdir=TB, nodesep=0.35, ranksep=0.7, pad=0.3, newrank=true];',
        f'  node [fontname="{FONT}", fontsize=11, margin="0.12,0.06", penwidth=1.2];',
        f'  edge [fontname="{FONT}", fontsize=10, penwidth=1.2, arrowsize=0.8];',
    ]
    return "\n".join([*head, *node_lines, *edge_lines, "}"]) + "\n"


# ---- the control network -----------------------------------------------------------------------------

_NETWORK_CLAIMS = """
SELECT ?claim ?property ?subject ?object ?since ?until ?docId ?reference WHERE {
  ?claim kg:claimProperty ?property ; kg:claimSubject ?subject ; kg:claimObject ?object .
  VALUES ?property { kg:controls kg:controlledBy kg:owns kg:holdsLicenceFor org:subOrganizationOf
                     kg:develops kg:operates kg:jurisdiction }
  ?claim a kg:RelationClaim .
  OPTIONAL { ?claim kg:startTime ?since }
  OPTIONAL { ?claim kg:endTime ?until }
  OPTIONAL { ?claim prov:wasDerivedFrom ?doc . ?doc kg:documentId ?docId }
  OPTIONAL { ?claim dcterms:source ?reference }
}
ORDER BY ?claim
"""

# Arrows go from the one in control (drawn above) to what it controls: these stated properties are
# turned round, and read as the value says (None: the property's own label).
_TURNED = {KG.controlledBy: None, ORG.subOrganizationOf: "has sub-organization", KG.jurisdiction: "jurisdiction over"}
_READ_AS = {KG.controlledBy: KG.controls}
ACTIVITY = frozenset({KG.develops, KG.operates})


class Line(str, Enum):
    """How an arrow is drawn: a current relation, one that ended, or activity without control."""

    CURRENT = "current"
    ENDED = "ended"
    ACTIVITY = "activity"


@dataclass(frozen=True)
class NetworkEdge:
    """One arrow: `source` controls (or has jurisdiction over, or works) `target`, as claims state."""

    source: URIRef
    target: URIRef
    reading: str
    since: str | None
    until: str | None
    line: Line
    sources: tuple[str, ...]

    @property
    def when(self) -> str:
        if self.since and self.until:
            return f"{self.since}\u2013{self.until}"
        if self.since:
            return f"since {self.since}"
        if self.until:
            return f"until {self.until}"
        return ""


@dataclass(frozen=True)
class Network:
    """The control network: every entity in it and every arrow between them."""

    nodes: dict[Node, DrawnNode]
    edges: tuple[NetworkEdge, ...]


def _text(term: Node | None) -> str | None:
    return None if term is None else str(term)


def _source_of(doc_id: Node | None, reference: Node | None) -> str:
    return str(doc_id) if doc_id is not None else "background" if reference is not None else "no source"


def control_network(graph: Target, legend: Legend | None = None) -> Network:
    """Every relation claim of control, ownership, licence, structure (current or ended) and activity,
    with the jurisdiction of each organisation in it: states, state corporations, their subsidiaries
    and the deposits and facilities they hold. Claims that say the same thing over the same time are
    one arrow naming all their sources."""
    legend = legend or read_legend(graph)
    Key = tuple[URIRef, URIRef, str, str | None, str | None, Line]
    merged: dict[Key, set[str]] = defaultdict(set)
    jurisdictions: dict[Key, set[str]] = defaultdict(set)
    for _, prop, subject, obj, since, until, doc_id, reference in run_sparql(graph, _NETWORK_CLAIMS).rows:
        if not (isinstance(prop, URIRef) and isinstance(subject, URIRef) and isinstance(obj, URIRef)):
            continue
        source, target = (obj, subject) if prop in _TURNED else (subject, obj)
        reading = _TURNED.get(prop) or legend.label(_READ_AS.get(prop, prop))
        line = Line.ACTIVITY if prop in ACTIVITY else Line.ENDED if until is not None else Line.CURRENT
        found = jurisdictions if prop == KG.jurisdiction else merged
        found[(source, target, reading, _text(since), _text(until), line)].add(_source_of(doc_id, reference))
    members = {node for key in merged for node in key[:2]}
    merged.update((key, docs) for key, docs in jurisdictions.items() if key[1] in members)
    edges = tuple(NetworkEdge(s, t, r, since, until, line, tuple(sorted(docs)))
                  for (s, t, r, since, until, line), docs in sorted(merged.items(), key=lambda item: (
                      str(item[0][0]), str(item[0][1]), item[0][2], item[0][3] or "", item[0][4] or "",
                      item[0][5].value)))
    nodes: dict[Node, DrawnNode] = {node: legend.drawn(node) for edge in edges for node in (edge.source, edge.target)}
    return Network(nodes, edges)


_EDGE_LOOK = {
    Line.CURRENT: 'color="#222222", fontcolor="#222222"',
    Line.ENDED: 'color="#999999", fontcolor="#777777", style=dashed',
    Line.ACTIVITY: 'color="#3d85c6", fontcolor="#3d85c6", style=dotted, arrowhead=empty',
}
NETWORK_LEGEND = ("solid: current control or jurisdiction;  dashed grey: ended;  dotted blue: develops or "
                  "operates (no control)\n[000]: the source document of the claim;  background: a reference work")


def network_dot(network: Network, *, title: str = "Control network: who controls what, since when, "
                                                  "according to which source") -> str:
    """The network as Graphviz DOT: nodes by kind, arrows from the one in control, dates and sources on them."""
    ids = {node: f"n{i}" for i, node in enumerate(sorted(network.nodes, key=lambda n: n.n3()), 1)}
    node_lines = [_node_line(ids[node], drawn) for node, drawn in sorted(network.nodes.items(),
                                                                          key=lambda item: ids[item[0]])]
    edge_lines = []
    for edge in network.edges:
        label = [edge.reading]
        if edge.when:
            label.append(edge.when)
        label.append("[" + ", ".join(edge.sources) + "]")
        edge_lines.append(f"  {ids[edge.source]} -> {ids[edge.target]} "
                          f"[label={dot_string(chr(10).join(label))}, {_EDGE_LOOK[edge.line]}];")
    return _dot_document(title, node_lines, edge_lines, NETWORK_LEGEND)


# ---- any CONSTRUCT answer ------------------------------------------------------------------------------

_SHOWN_LITERALS = 4
_LITERAL_WIDTH = 40


def graph_dot(answer: Graph, legend: Legend, *, title: str) -> str:
    """Any graph (a CONSTRUCT answer) as DOT: IRIs and blank nodes are nodes, labelled by the answer or
    else by `legend` (read from the whole graph), which also gives their kinds; rdf:type is folded into
    the kind, other literals are listed in the node, every other triple is an arrow."""
    best: dict[Node, tuple[tuple[int, int, str, str], str]] = {}
    literals: dict[Node, list[str]] = defaultdict(list)
    arrows: set[tuple[Node, Node, Node]] = set()
    nodes: set[Node] = set()
    for s, p, o in answer:
        nodes.add(s)
        if p in (RDFS.label, SKOS.prefLabel) and isinstance(o, Literal):
            rank = _label_rank(p, o)
            if s not in best or rank < best[s][0]:
                best[s] = (rank, str(o))
        elif isinstance(o, Literal):
            literals[s].append(f"{short_name(p)}: {textwrap.shorten(str(o), _LITERAL_WIDTH, placeholder='...')}")
        elif p != RDF.type:
            nodes.add(o)
            arrows.add((s, p, o))
    if len(nodes) > MAX_DRAWN_NODES:
        raise BadInputError(f"the answer has {len(nodes)} nodes: too many to draw legibly (at most "
                            f"{MAX_DRAWN_NODES})", hint="make the query more selective")
    ids = {node: f"n{i}" for i, node in enumerate(sorted(nodes, key=lambda n: n.n3()), 1)}
    node_lines = []
    for node in sorted(nodes, key=lambda n: ids[n]):
        drawn = legend.drawn(node)
        if node in best:
            drawn = DrawnNode(best[node][1], drawn.kind, drawn.style)
        elif isinstance(node, BNode):
            drawn = DrawnNode("(blank node)", drawn.kind, drawn.style)
        shown = sorted(literals[node])
        extra = shown[:_SHOWN_LITERALS] + ([f"... {len(shown) - _SHOWN_LITERALS} more"]
                                           if len(shown) > _SHOWN_LITERALS else [])
        node_lines.append(_node_line(ids[node], drawn, extra))
    edge_lines = [f"  {ids[s]} -> {ids[o]} [label={dot_string(legend.label(p))}];"
                  for s, p, o in sorted(arrows, key=lambda t: (ids[t[0]], ids[t[2]], str(t[1])))]
    return _dot_document(title, node_lines, edge_lines, "")


# ---- Graphviz --------------------------------------------------------------------------------------------

def render_dot(source: str, image_format: ImageFormat, *, timeout: float = DOT_TIMEOUT) -> bytes:
    """DOT source as the format asked for, by Graphviz's `dot` (ExternalComponentError when it is
    missing, fails or runs out of time)."""
    if image_format is ImageFormat.DOT:
        return source.encode("utf-8")
    dot = shutil.which("dot")
    if dot is None:
        raise ExternalComponentError("Graphviz's `dot` is not installed",
                                     hint="install Graphviz (apt-get install graphviz; scripts/setup.sh does), "
                                          "or write --format dot")
    command = [dot, f"-T{image_format.value}"]
    if image_format is ImageFormat.PNG:
        command.append("-Gdpi=120")
    try:
        done = subprocess.run(command, input=source.encode("utf-8"), capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ExternalComponentError(f"Graphviz's `dot` gave no picture within {timeout:g} s") from None
    except OSError as error:
        raise ExternalComponentError(f"cannot run Graphviz's `dot`: {error}") from None
    if done.returncode != 0 or not done.stdout:
        message = " ".join(done.stderr.decode("utf-8", "replace").split())[:300]
        raise ExternalComponentError(f"Graphviz's `dot` failed (exit {done.returncode}): {message}")
    return done.stdout


def _store(graph: Target) -> Target:
    """The graph in the embedded store, loaded once for the several queries a picture needs."""
    return Store.from_graph(graph) if isinstance(graph, Graph) else graph


def draw_network(graph: Target, image_format: ImageFormat) -> Picture:
    """The control network of the graph as a picture."""
    network = control_network(_store(graph))
    data = render_dot(network_dot(network), image_format)
    return Picture(data, image_format, f"{len(network.nodes)} entities, {len(network.edges)} arrows")


def draw_construct(graph: Target, query: SavedQuery, params: Mapping[str, str], image_format: ImageFormat) -> Picture:
    """The answer of a CONSTRUCT or DESCRIBE query (parameters bound, never spliced) as a picture."""
    graph = _store(graph)
    result = run_saved_query(graph, query, params)
    if result.graph is None:
        raise BadInputError(f"query {query.name} is a {result.form.value} query; only a CONSTRUCT or DESCRIBE "
                            "answer (a graph) can be drawn",
                            hint="kgtool query --list shows the saved queries; control-network is a CONSTRUCT")
    if len(result.graph) == 0:
        raise BadInputError(f"query {query.name} gave an empty graph: nothing to draw")
    source = graph_dot(result.graph, read_legend(graph), title=query.title)
    data = render_dot(source, image_format)
    return Picture(data, image_format, f"{len(result.graph)} triples of {query.name}")


# ---- the chart of quantitative claims --------------------------------------------------------------------

_MEASURE_CLAIMS = """
SELECT ?claim ?value ?unit ?commodity ?docId ?reference ?asStated ?asOf ?by ?qualifier ?otherDocId ?otherReference
WHERE {
  ?claim kg:claimSubject ?subject ; kg:measure ?measure .
  ?claim a kg:QuantitativeClaim ; kg:value ?value ; kg:unit ?unit .
  OPTIONAL { ?claim kg:commodity ?commodity }
  OPTIONAL { ?claim prov:wasDerivedFrom ?doc . ?doc kg:documentId ?docId }
  OPTIONAL { ?claim dcterms:source ?reference }
  OPTIONAL { ?claim kg:asStated ?asStated }
  OPTIONAL { ?claim kg:asOf ?asOf }
  OPTIONAL { ?claim kg:attributedTo ?by }
  OPTIONAL { ?claim kg:qualifier ?qualifier }
  OPTIONAL {
    ?claim kg:conflictsWith ?other .
    OPTIONAL { ?other prov:wasDerivedFrom ?otherDoc . ?otherDoc kg:documentId ?otherDocId }
    OPTIONAL { ?other dcterms:source ?otherReference }
  }
}
ORDER BY ?claim ?otherDocId
"""
_MEASURES_OF = """
SELECT DISTINCT ?measure WHERE { ?claim kg:claimSubject ?subject ; kg:measure ?measure } ORDER BY ?measure
"""
QUALIFIER_SIGNS: dict[Node | None, str] = {KGV["approximately"]: "\u2248 ", KGV["at-most"]: "\u2264 ",
                                           KGV["at-least"]: "\u2265 ", KGV["more-than"]: "> "}


@dataclass(frozen=True)
class ChartClaim:
    """One quantitative claim as the chart shows it."""

    claim: URIRef
    value: Decimal
    unit: str
    commodity: str
    source: str
    as_stated: str | None
    as_of: str | None
    attributed_to: str | None
    qualifier: Node | None
    conflicts_with: tuple[str, ...]

    @property
    def name(self) -> str:
        """How the chart names the claim: its source document, who it is attributed to and its time."""
        parts = [self.source, self.attributed_to or "not attributed"]
        if self.as_of:
            parts.append(f"as of {self.as_of}")
        return " \u00b7 ".join(parts)

    @property
    def stated(self) -> str:
        """The figure as the source states it, else the value with its qualifier's sign."""
        if self.as_stated:
            return f"\u201c{self.as_stated}\u201d"
        return QUALIFIER_SIGNS.get(self.qualifier, "") + _human(float(self.value))


@dataclass(frozen=True)
class MeasureClaims:
    """Every quantitative claim about one subject and measure (optionally one commodity)."""

    subject: str
    measure: str
    claims: tuple[ChartClaim, ...]

    @property
    def conflicting(self) -> int:
        return sum(1 for claim in self.claims if claim.conflicts_with)


def measure_claims(graph: Target, subject: URIRef, measure: URIRef, commodity: URIRef | None = None, *,
                   legend: Legend | None = None) -> MeasureClaims:
    """The claims for the chart, each with the sources of the claims it conflicts with (kg:conflictsWith)."""
    legend = legend or read_legend(graph)
    first: dict[Node | None, tuple[Node | None, ...]] = {}
    conflicts: dict[Node | None, set[str]] = defaultdict(set)
    for row in run_sparql(graph, _MEASURE_CLAIMS, {"subject": subject, "measure": measure}).rows:
        first.setdefault(row[0], row)  # a claim with two values of an optional column is shown once
        if row[10] is not None or row[11] is not None:
            conflicts[row[0]].add(_source_of(row[10], row[11]))
    claims = []
    for claim, (_, value, unit, of, doc_id, reference, as_stated, as_of, by, qualifier, *_) in first.items():
        if not isinstance(claim, URIRef) or commodity is not None and of != commodity:
            continue
        claims.append(ChartClaim(claim, Decimal(str(value)), legend.label(unit) if unit is not None else "",
                                 legend.label(of) if of is not None else "", _source_of(doc_id, reference),
                                 _text(as_stated), _text(as_of), legend.label(by) if by is not None else None,
                                 qualifier, tuple(sorted(conflicts[claim]))))
    claims.sort(key=lambda c: (c.commodity, c.unit, c.source, c.as_of or "", str(c.claim)))
    return MeasureClaims(legend.label(subject), legend.label(measure), tuple(claims))


def _human(value: float) -> str:
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if abs(value) >= size:
            return f"{value / size:g} {word}"
    return f"{value:g}"


CLAIM_COLOUR = "#4c72b0"
CONFLICT_COLOUR = "#c0392b"


def claims_chart(data: MeasureClaims, image_format: ImageFormat) -> bytes:
    """A horizontal bar per claim, one panel per commodity and unit, conflicting claims in red and
    hatched with the sources they conflict with named; SVG or PNG without dates or random ids."""
    if image_format is ImageFormat.DOT:
        raise BadInputError("a chart is drawn as SVG or PNG, not DOT", hint="give --format svg or png")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    groups: dict[tuple[str, str], list[ChartClaim]] = defaultdict(list)
    for claim in data.claims:
        groups[(claim.commodity, claim.unit)].append(claim)
    heights = [len(claims) + 1.5 for claims in groups.values()]
    style: dict[Any, Any] = {"svg.hashsalt": "kgtool", "svg.fonttype": "path", "font.family": FONT, "font.size": 10,
             "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context(style):
        figure, axes = pyplot.subplots(len(groups), 1, figsize=(11, 1.0 + 0.6 * sum(heights)),
                                       gridspec_kw={"height_ratios": heights}, squeeze=False)
        try:
            for axis, ((commodity, unit), claims) in zip(axes[:, 0], groups.items(), strict=True):
                _panel(axis, commodity, unit, claims)
                axis.xaxis.set_major_locator(MaxNLocator(5))
                axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _human(value)))
            figure.suptitle(f"{data.subject}: {data.measure}, every claim by source", fontsize=13, x=0.02,
                            ha="left")
            figure.legend(handles=[Patch(facecolor=CLAIM_COLOUR, label="claim"),
                                   Patch(facecolor=CONFLICT_COLOUR, hatch="///", edgecolor="white",
                                         label="conflicts with another claim (kg:conflictsWith)")],
                          loc="lower left", ncol=2, frameon=False, bbox_to_anchor=(0.01, 0.0))
            figure.tight_layout(rect=(0, 0.05, 1, 0.97))
            buffer = io.BytesIO()
            metadata: dict[str, Any] = ({"Date": None, "Creator": None} if image_format is ImageFormat.SVG
                                        else {"Software": None})
            figure.savefig(buffer, format=image_format.value, metadata=metadata, dpi=120)
        finally:
            pyplot.close(figure)
    return buffer.getvalue()


def _panel(axis: Any, commodity: str, unit: str, claims: Sequence[ChartClaim]) -> None:
    """One commodity and unit: a bar per claim, named by source, attribution, time and the stated figure."""
    positions = list(range(len(claims)))[::-1]
    values = [float(claim.value) for claim in claims]
    colours = [CONFLICT_COLOUR if claim.conflicts_with else CLAIM_COLOUR for claim in claims]
    bars = axis.barh(positions, values, color=colours, height=0.6)
    for bar, claim in zip(bars, claims, strict=True):
        if claim.conflicts_with:
            bar.set_hatch("///")
            bar.set_edgecolor("white")
            axis.annotate("conflicts with " + ", ".join(claim.conflicts_with),
                          (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                          textcoords="offset points", va="center", fontsize=9, color=CONFLICT_COLOUR)
    axis.set_yticks(positions, [f"{claim.name}\n{claim.stated}" for claim in claims])
    axis.set_xlim(0, max(values) * 1.3 if max(values) > 0 else 1)
    axis.set_xlabel(unit)
    axis.set_title(commodity or "(no commodity stated)", loc="left", fontsize=11, fontweight="bold")


def draw_chart(graph: Target, *, subject: str, measure: str, commodity: str | None,
               image_format: ImageFormat) -> Picture:
    """The chart of every quantitative claim for `measure` about `subject` (each a prefixed name, an IRI
    or a label), optionally of one commodity."""
    graph = _store(graph)
    def iri(name: str, raw: str) -> URIRef:
        term = resolve_value(graph, Parameter(name, "iri", None, ""), raw)
        assert isinstance(term, URIRef)
        return term

    subject_iri, measure_iri = iri("subject", subject), iri("measure", measure)
    commodity_iri = iri("commodity", commodity) if commodity is not None else None
    data = measure_claims(graph, subject_iri, measure_iri, commodity_iri)
    if not data.claims:
        measures = [short_name(m) for (m,) in run_sparql(graph, _MEASURES_OF, {"subject": subject_iri}).rows
                    if m is not None]
        raise BadInputError(f"no quantitative claim gives {short_name(measure_iri)} for {short_name(subject_iri)}"
                            + (f" of {short_name(commodity_iri)}" if commodity_iri is not None else ""),
                            hint=("its claims give: " + ", ".join(measures)) if measures
                            else "that subject has no quantitative claims")
    image = claims_chart(data, image_format)
    return Picture(image, image_format, f"{len(data.claims)} claims, {data.conflicting} in conflict")
