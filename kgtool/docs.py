"""Static HTML documentation of the ontology: every class and property with its label, definition,
hierarchy, domain and range, the SHACL shapes that apply to it and example instances from the graph.

One self-contained page (no scripts, no fetched styles or fonts), the same bytes for the same inputs.
A missing label or definition is a warning returned with the page, never a failure. Every text that
comes from the graph is HTML-escaped.
"""
from __future__ import annotations

import hashlib
import html
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from .build import build
from .config import Project
from .errors import BadInputError
from . import namespaces
from .namespaces import DCTERMS, KG, OWL, PREFIXES, RDF, RDFS, SH, SKOS
from .ontology import load_ontology
from .rdfio import load_graph, write_atomic

TERM_KINDS: tuple[tuple[URIRef, str, str], ...] = (
    (OWL.Class, "classes", "class"),
    (OWL.ObjectProperty, "object-properties", "object property"),
    (OWL.DatatypeProperty, "datatype-properties", "datatype property"),
    (OWL.AnnotationProperty, "annotation-properties", "annotation property"),
)
SECTION_TITLES = {"classes": "Classes", "object-properties": "Object properties",
                  "datatype-properties": "Datatype properties", "annotation-properties": "Annotation properties"}
CHARACTERISTICS = (OWL.FunctionalProperty, OWL.InverseFunctionalProperty, OWL.TransitiveProperty,
                   OWL.SymmetricProperty, OWL.AsymmetricProperty, OWL.ReflexiveProperty, OWL.IrreflexiveProperty)
EXAMPLES = 5
SHAPE_DETAIL_SKIPPED = (SH.path, SH.message, SH.severity, SH.name, SH.description, SH.order, SH.group,
                        SH.property, SH.sparql, SH.targetClass, SH.targetNode, SH.targetSubjectsOf,
                        SH.targetObjectsOf, SH.deactivated)


@dataclass(frozen=True)
class OntologyDocs:
    """The page, the terms it documents (in page order) and what it had to leave out."""

    html: str
    terms: tuple[URIRef, ...]
    concepts: tuple[URIRef, ...]
    warnings: tuple[str, ...]


NAMESPACES = {**PREFIXES, "sh": str(SH)}


def short_name(term: Node) -> str:
    """A prefixed name in the project's namespaces or SHACL's, else the IRI."""
    return namespaces.short_name(term, NAMESPACES)


def anchor(term: Node) -> str:
    """The HTML id of a term's section: its prefixed name (kg:Deposit), or a hash of an IRI no prefix covers."""
    name = short_name(term)
    if name != str(term) and all(not c.isspace() for c in name):
        return name
    return "iri-" + hashlib.sha256(str(term).encode("utf-8")).hexdigest()[:16]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


class _Reader:
    """What the page says about terms, read from the ontology, the shapes and the data graph."""

    def __init__(self, ontology: Graph, shapes: Graph, data: Graph) -> None:
        self.ontology, self.shapes, self.data = ontology, shapes, data
        self.documented: set[Node] = set()
        self.warnings: list[str] = []

    def key(self, term: Node) -> tuple[int, str]:
        """A sort key that depends on content alone: named terms by prefixed name, then blank nodes by
        what is said about them (their labels are random)."""
        if not isinstance(term, BNode):
            return (0, short_name(term))
        return (1, self._content(term, 3))

    def _content(self, node: Node, depth: int) -> str:
        if not isinstance(node, BNode):
            return node.n3()
        if depth == 0:
            return "[]"
        said = sorted(f"{p.n3()} {self._content(o, depth - 1)}" for graph in (self.shapes, self.ontology, self.data)
                      for p, o in graph.predicate_objects(node))
        return "[" + "; ".join(said) + "]"

    # -- words --------------------------------------------------------------------------------------

    def best(self, graph: Graph, term: Node, properties: Sequence[URIRef]) -> str | None:
        found = [(rank, _language_rank(o), str(o)) for rank, p in enumerate(properties)
                 for o in graph.objects(term, p) if isinstance(o, Literal)]
        return min(found)[2] if found else None

    def label(self, term: Node) -> str | None:
        return (self.best(self.ontology, term, (RDFS.label, SKOS.prefLabel))
                or self.best(self.shapes, term, (RDFS.label,)) or self.best(self.data, term, (RDFS.label,
                                                                                             SKOS.prefLabel)))

    def definition(self, term: Node) -> str | None:
        return self.best(self.ontology, term, (SKOS.definition, RDFS.comment, DCTERMS.description))

    def name(self, term: Node) -> str:
        """A link to the term when it has a section here, else its label or prefixed name."""
        if isinstance(term, BNode):
            return self.expression(term)
        if isinstance(term, Literal):
            return f"<q>{_e(textwrap.shorten(str(term), 120, placeholder='...'))}</q>"
        shown = f"<code>{_e(short_name(term))}</code>"
        if term in self.documented:
            return f'<a href="#{_e(anchor(term))}">{shown}</a>'
        label = self.label(term)
        return f"{_e(label)} ({shown})" if label and label != short_name(term) else shown

    def expression(self, node: BNode) -> str:
        """An anonymous class expression or path, in words."""
        for operator, joiner in ((OWL.unionOf, " or "), (OWL.intersectionOf, " and ")):
            members = self.ontology.value(node, operator)
            if members is not None:
                return "(" + joiner.join(self.name(m) for m in Collection(self.ontology, members)) + ")"
        on = self.ontology.value(node, OWL.onProperty)
        if on is not None:
            return f"(a restriction on {self.name(on)})"
        return "(an anonymous class expression)"

    def names(self, terms: Iterable[Node]) -> str:
        shown = [self.name(t) for t in sorted(set(terms), key=self.key)]
        return ", ".join(shown) if shown else "&mdash;"

    def warn_missing(self, term: URIRef, kind: str) -> None:
        if self.label(term) is None:
            self.warnings.append(f"{short_name(term)} ({kind}): no rdfs:label; the page shows its prefixed name")
        if self.definition(term) is None:
            self.warnings.append(f"{short_name(term)} ({kind}): no skos:definition or rdfs:comment")

    # -- hierarchy ------------------------------------------------------------------------------------

    def supers(self, term: URIRef, link: URIRef) -> set[Node]:
        return {o for o in self.ontology.objects(term, link) if o != term}

    def subs(self, term: URIRef, link: URIRef) -> set[Node]:
        return {s for s in self.ontology.subjects(link, term) if s != term}

    def ancestors(self, term: URIRef) -> list[URIRef]:
        """The term and every named superclass, nearest first."""
        seen: list[URIRef] = [term]
        for cls in seen:
            for parent in sorted(self.supers(cls, RDFS.subClassOf), key=self.key):
                if isinstance(parent, URIRef) and parent not in seen:
                    seen.append(parent)
        return seen

    def descendants(self, term: URIRef) -> list[URIRef]:
        seen: list[URIRef] = [term]
        for cls in seen:
            for child in sorted(self.subs(cls, RDFS.subClassOf), key=self.key):
                if isinstance(child, URIRef) and child not in seen:
                    seen.append(child)
        return seen

    def disjoint(self, term: URIRef) -> set[Node]:
        found = set(self.ontology.objects(term, OWL.disjointWith)) | set(self.ontology.subjects(OWL.disjointWith,
                                                                                                  term))
        for group in self.ontology.subjects(RDF.type, OWL.AllDisjointClasses):
            members_list = self.ontology.value(group, OWL.members)
            if members_list is None:
                continue
            members = list(Collection(self.ontology, members_list))
            if term in members:
                found |= {m for m in members if m != term}
        return found

    # -- data ----------------------------------------------------------------------------------------

    def instances(self, cls: URIRef) -> list[Node]:
        found = {s for sub in self.descendants(cls) for s in self.data.subjects(RDF.type, sub)}
        return sorted(found, key=self.key)

    def uses(self, prop: URIRef) -> list[tuple[Node, Node, Node]]:
        return sorted(self.data.triples((None, prop, None)), key=lambda t: (self.key(t[0]), self.key(t[2])))

    def entity(self, term: Node) -> str:
        """An instance or value from the data: its label beside its prefixed name, or the literal."""
        if isinstance(term, Literal):
            return f"<q>{_e(textwrap.shorten(str(term), 100, placeholder='...'))}</q>"
        if term in self.documented:
            return self.name(term)
        label = self.label(term)
        shown = f"<code>{_e(short_name(term))}</code>"
        return f"{_e(label)} ({shown})" if label else shown

    # -- shapes --------------------------------------------------------------------------------------

    def node_shapes_for_class(self, cls: URIRef) -> list[tuple[Node, URIRef]]:
        """(shape, the class it targets) for each node shape whose target covers the class's instances."""
        found = []
        for target in self.ancestors(cls):
            for shape in self.shapes.subjects(SH.targetClass, target):
                found.append((shape, target))
        return sorted(set(found), key=lambda item: (item[1] != cls, self.key(item[0])))

    def property_shapes_for(self, prop: URIRef) -> list[Node]:
        direct = set(self.shapes.subjects(SH.path, prop))
        inverse = {shape for path in self.shapes.subjects(SH.inversePath, prop)
                   for shape in self.shapes.subjects(SH.path, path)}
        return sorted(direct | inverse, key=self.key)

    def shapes_targeting_uses(self, prop: URIRef) -> list[Node]:
        return sorted(set(self.shapes.subjects(SH.targetSubjectsOf, prop))
                      | set(self.shapes.subjects(SH.targetObjectsOf, prop)), key=self.key)

    def path(self, path: Node) -> str:
        if isinstance(path, URIRef):
            return self.name(path)
        for operator, fmt in ((SH.inversePath, "^{}"), (SH.zeroOrMorePath, "{}*"), (SH.oneOrMorePath, "{}+"),
                              (SH.zeroOrOnePath, "{}?")):
            inner = self.shapes.value(path, operator)
            if inner is not None:
                return fmt.format(self.path(inner))
        alternatives = self.shapes.value(path, SH.alternativePath)
        if alternatives is not None:
            return "(" + " | ".join(self.path(p) for p in Collection(self.shapes, alternatives)) + ")"
        if self.shapes.value(path, RDF.first) is not None:
            return " / ".join(self.path(p) for p in Collection(self.shapes, path))
        return "(a path)"

    def shape_name(self, shape: Node) -> str:
        if isinstance(shape, BNode):
            return "(an anonymous shape)"
        label = self.label(shape)
        link = f'<a href="#{_e(anchor(shape))}"><code>{_e(short_name(shape))}</code></a>'
        return f"{link} ({_e(label)})" if label else link

    def constraints(self, shape: Node) -> str:
        parts = []
        for p, o in sorted(self.shapes.predicate_objects(shape), key=lambda t: (self.key(t[0]), self.key(t[1]))):
            if not str(p).startswith(str(SH)) or p in SHAPE_DETAIL_SKIPPED:
                continue
            if isinstance(o, BNode) and self.shapes.value(o, RDF.first) is not None:
                value = "(" + ", ".join(self.constraint_value(m) for m in Collection(self.shapes, o)) + ")"
            else:
                value = self.constraint_value(o)
            parts.append(f"<code>{_e(short_name(p))}</code> {value}")
        for rule in sorted(self.shapes.objects(shape, SH.sparql), key=self.key):
            message = self.best(self.shapes, rule, (SH.message,))
            parts.append("SPARQL rule" + (f": {_e(message)}" if message else ""))
        return "<br>".join(parts) if parts else "&mdash;"

    def constraint_value(self, value: Node) -> str:
        """A constraint's value: a term, a literal as written, or an inline shape in brackets."""
        if isinstance(value, Literal):
            text = str(value)
            return f"<q>{_e(text)}</q>" if isinstance(value.value, str) or value.value is None else _e(text)
        if isinstance(value, BNode):
            path = self.shapes.value(value, SH.path)
            on = f"{self.path(path)}: " if path is not None else ""
            return f"[{on}{self.constraints(value)}]"
        return self.name(value)

    def severity(self, shape: Node) -> str:
        severity = self.shapes.value(shape, SH.severity)
        return _e(short_name(severity).removeprefix("sh:")) if severity is not None else "Violation"

    def message(self, shape: Node) -> str:
        return _e(self.best(self.shapes, shape, (SH.message,)) or "")

    def owners(self, property_shape: Node) -> list[Node]:
        """The named shapes a property shape belongs to: through sh:property, or for an anonymous one
        inside a list or a logical constraint (sh:xone ( [ sh:path ... ] )), the named shapes around it."""
        found = set(self.shapes.subjects(SH.property, property_shape))
        seen, todo = {property_shape}, [property_shape]
        while todo and not found:
            for holder in self.shapes.subjects(None, todo.pop()):
                if isinstance(holder, URIRef):
                    found.add(holder)
                elif holder not in seen:
                    seen.add(holder)
                    todo.append(holder)
        return sorted(found, key=self.key)


def _language_rank(literal: Literal) -> tuple[int, str]:
    language = literal.language or ""
    return (0 if language == "en" else 1 if not language else 2, language)




# ---- the page ----------------------------------------------------------------------------------------

STYLE = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}
h1{font-size:1.7rem}h2{border-bottom:2px solid #ccc;margin-top:2.5rem}
section.term{border-top:1px solid #ddd;padding:.4rem 0 .8rem}
section.term h3{margin:.6rem 0 .2rem}
code{background:#f4f4f4;padding:0 .2em;border-radius:3px}
dl{display:grid;grid-template-columns:11rem 1fr;gap:.2rem .8rem;margin:.4rem 0}
dt{font-weight:bold;color:#555}dd{margin:0}
table{border-collapse:collapse;margin:.3rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.iri{color:#666;font-size:.85rem}.toc{columns:3;font-size:.9rem}
.missing{color:#a33}
"""


def _row(name: str, value: str) -> str:
    return f"<dt>{_e(name)}</dt><dd>{value}</dd>"


def _heading(reader: _Reader, term: URIRef, kind: str) -> str:
    label = reader.label(term)
    title = _e(label) if label else f'<span class="missing">{_e(short_name(term))} (no label)</span>'
    definition = reader.definition(term)
    text = _e(definition) if definition else '<span class="missing">No definition given.</span>'
    return (f'<section class="term" id="{_e(anchor(term))}">\n<h3>{title}</h3>\n'
            f'<div class="iri">{_e(kind)} <code>{_e(short_name(term))}</code> &middot; {_e(str(term))}</div>\n'
            f"<p>{text}</p>\n")


def _examples(shown: Sequence[str], total: int, what: str) -> str:
    if not total:
        return "none in the graph"
    counted = f"1 {what.removesuffix('s')}" if total == 1 else f"{total} {what}"
    more = f" &hellip; ({counted} in all)" if total > len(shown) else f" ({counted})"
    return "; ".join(shown) + more


def _class_section(reader: _Reader, cls: URIRef) -> str:
    parts = [_heading(reader, cls, "class"), "<dl>"]
    alt = sorted(str(o) for o in reader.ontology.objects(cls, SKOS.altLabel))
    if alt:
        parts.append(_row("also called", _e(", ".join(alt))))
    parts.append(_row("subclass of", reader.names(reader.supers(cls, RDFS.subClassOf))))
    parts.append(_row("subclasses", reader.names(reader.subs(cls, RDFS.subClassOf))))
    disjoint = reader.disjoint(cls)
    if disjoint:
        parts.append(_row("disjoint with", reader.names(disjoint)))
    parts.append(_row("domain of", reader.names(reader.ontology.subjects(RDFS.domain, cls))))
    parts.append(_row("range of", reader.names(reader.ontology.subjects(RDFS.range, cls))))
    instances = reader.instances(cls)
    parts.append(_row("examples", _examples([reader.entity(i) for i in instances[:EXAMPLES]],
                                            len(instances), "instances")))
    applying = reader.node_shapes_for_class(cls)
    own = [shape for shape, target in applying if target == cls]
    inherited = [(shape, target) for shape, target in applying if target != cls]
    shapes = [reader.shape_name(shape) for shape in own]
    shapes += [f"{reader.shape_name(shape)} through {reader.name(target)}" for shape, target in inherited]
    parts.append(_row("SHACL shapes", "<br>".join(shapes) if shapes else "none: no shape targets this class"))
    parts.append("</dl>")
    for shape in own:
        parts.append(_shape_table(reader, shape))
    parts.append("</section>")
    return "\n".join(parts)


def _shape_table(reader: _Reader, shape: Node, only: Sequence[Node] | None = None) -> str:
    """A node shape's own constraints and its property shapes (or only those given)."""
    rows = []
    if only is None:
        own = reader.constraints(shape)
        rows.append(f"<tr><th colspan=\"4\">{reader.shape_name(shape)} {reader.message(shape)}"
                    + (f"<br><small>{own}</small>" if own != "&mdash;" else "") + "</th></tr>")
    properties = only if only is not None else sorted(reader.shapes.objects(shape, SH.property), key=reader.key)
    if properties:
        rows.append("<tr><th>path</th><th>constraints</th><th>severity</th><th>message</th></tr>")
    for prop_shape in properties:
        path = reader.shapes.value(prop_shape, SH.path)
        rows.append(f"<tr><td>{reader.path(path) if path is not None else '&mdash;'}</td>"
                    f"<td>{reader.constraints(prop_shape)}</td><td>{reader.severity(prop_shape)}</td>"
                    f"<td>{reader.message(prop_shape)}</td></tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _property_section(reader: _Reader, prop: URIRef, kind: str) -> str:
    parts = [_heading(reader, prop, kind), "<dl>"]
    characteristics = [short_name(c).removeprefix("owl:") for c in CHARACTERISTICS
                       if (prop, RDF.type, c) in reader.ontology]
    if characteristics:
        parts.append(_row("characteristics", _e(", ".join(characteristics))))
    parts.append(_row("domain", reader.names(reader.ontology.objects(prop, RDFS.domain))))
    parts.append(_row("range", reader.names(reader.ontology.objects(prop, RDFS.range))))
    parts.append(_row("subproperty of", reader.names(reader.supers(prop, RDFS.subPropertyOf))))
    parts.append(_row("subproperties", reader.names(reader.subs(prop, RDFS.subPropertyOf))))
    inverse = reader.supers(prop, OWL.inverseOf) | reader.subs(prop, OWL.inverseOf)
    if inverse:
        parts.append(_row("inverse of", reader.names(inverse)))
    defined_by = list(reader.ontology.objects(prop, RDFS.isDefinedBy))
    if defined_by:
        parts.append(_row("defined by", ", ".join(f"<code>{_e(d)}</code>" for d in sorted(map(str, defined_by)))))
    uses = reader.uses(prop)
    shown = [f"{reader.entity(s)} &rarr; {reader.entity(o)}" for s, _, o in uses[:3]]
    parts.append(_row("examples", _examples(shown, len(uses), "uses")))
    stated = sum(1 for _ in reader.data.subjects(KG.claimProperty, prop))
    if stated:
        parts.append(_row("stated by", f"{stated} relation claims (kg:claimProperty)"))
    property_shapes = reader.property_shapes_for(prop)
    targeting = reader.shapes_targeting_uses(prop)
    shapes = [reader.shape_name(owner) for ps in property_shapes for owner in reader.owners(ps) or [ps]]
    shapes += [f"{reader.shape_name(shape)} (targets its uses)" for shape in targeting]
    parts.append(_row("SHACL shapes", "<br>".join(dict.fromkeys(shapes)) if shapes
                      else "none: no shape constrains this property"))
    parts.append("</dl>")
    if property_shapes:
        parts.append(_shape_table(reader, prop, only=property_shapes))
    parts.append("</section>")
    return "\n".join(parts)


def _shapes_section(reader: _Reader) -> str:
    node_shapes = sorted(set(reader.shapes.subjects(RDF.type, SH.NodeShape)), key=reader.key)
    parts = ['<h2 id="shapes">SHACL shapes</h2>']
    for shape in node_shapes:
        if isinstance(shape, BNode):
            continue
        targets = [f"{short_name(p).removeprefix('sh:')} {reader.name(o)}"
                   for p in (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode)
                   for o in sorted(reader.shapes.objects(shape, p), key=reader.key)]
        parts.append(f'<section class="term" id="{_e(anchor(shape))}">\n<h3>{reader.shape_name(shape)}</h3>\n'
                     f"<p>targets: {', '.join(targets) or 'none'}; severity {reader.severity(shape)}</p>\n"
                     f"{_shape_table(reader, shape)}\n</section>")
    return "\n".join(parts)


def _concepts_section(reader: _Reader, concepts: Sequence[URIRef]) -> str:
    by_scheme: dict[Node, list[URIRef]] = defaultdict(list)
    for concept in concepts:
        for scheme in reader.ontology.objects(concept, SKOS.inScheme):
            by_scheme[scheme].append(concept)
    parts = ['<h2 id="code-lists">Code lists</h2>']
    for scheme in sorted(by_scheme, key=reader.key):
        parts.append(f"<h3>{_e(reader.label(scheme) or short_name(scheme))} <code>{_e(short_name(scheme))}</code></h3>")
        parts.append("<table><tr><th>concept</th><th>label</th><th>notation</th><th>definition</th></tr>")
        for concept in sorted(by_scheme[scheme], key=reader.key):
            notation = ", ".join(sorted(str(n) for n in reader.ontology.objects(concept, SKOS.notation)))
            parts.append(f'<tr id="{_e(anchor(concept))}"><td><code>{_e(short_name(concept))}</code></td>'
                         f"<td>{_e(reader.label(concept) or '')}</td><td>{_e(notation)}</td>"
                         f"<td>{_e(reader.definition(concept) or '')}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts)


def document_ontology(ontology: Graph, shapes: Graph, data: Graph) -> OntologyDocs:
    """The documentation page of the ontology, with example instances from `data` (the built graph)."""
    reader = _Reader(ontology, shapes, data)
    sections: dict[str, list[tuple[URIRef, str]]] = {}
    seen: set[URIRef] = set()
    for kind_class, section, kind in TERM_KINDS:
        found = sorted((t for t in ontology.subjects(RDF.type, kind_class) if isinstance(t, URIRef) and t not in seen),
                       key=reader.key)
        seen.update(found)
        sections[section] = [(t, kind) for t in found]
    reader.documented = set(seen)
    concepts = sorted({c for c in ontology.subjects(SKOS.inScheme, None) if isinstance(c, URIRef)}, key=reader.key)
    reader.documented |= set(concepts)
    for listed in sections.values():
        for term, kind in listed:
            reader.warn_missing(term, kind)
    ontology_iri = next((o for o in ontology.subjects(RDF.type, OWL.Ontology) if isinstance(o, URIRef)), None)
    title = (reader.best(ontology, ontology_iri, (DCTERMS.title, RDFS.label)) if ontology_iri else None) \
        or "Ontology documentation"
    body = [f"<h1>{_e(title)}</h1>"]
    if ontology_iri is not None:
        description = reader.best(ontology, ontology_iri, (DCTERMS.description, RDFS.comment))
        version = ontology.value(ontology_iri, OWL.versionInfo)
        licence = ontology.value(ontology_iri, DCTERMS.license)
        body.append("<dl>" + _row("IRI", f"<code>{_e(ontology_iri)}</code>")
                    + (_row("version", _e(version)) if version is not None else "")
                    + (_row("licence", f"<code>{_e(licence)}</code>") if licence is not None else "")
                    + "</dl>")
        if description:
            body.append(f"<p>{_e(description)}</p>")
    counts = ", ".join(f'<a href="#{s}">{len(t)} {SECTION_TITLES[s].lower()}</a>' for s, t in sections.items())
    body.append(f'<p>{counts}, <a href="#shapes">the SHACL shapes</a> and '
                f'<a href="#code-lists">{len(concepts)} concepts in code lists</a>.</p>')
    for section, terms in sections.items():
        body.append(f'<h2 id="{section}">{SECTION_TITLES[section]}</h2>')
        body.append('<ul class="toc">' + "".join(
            f'<li><a href="#{_e(anchor(t))}">{_e(reader.label(t) or short_name(t))}</a></li>' for t, _ in terms)
            + "</ul>")
        for term, kind in terms:
            body.append(_class_section(reader, term) if kind == "class" else _property_section(reader, term, kind))
    body.append(_shapes_section(reader))
    body.append(_concepts_section(reader, concepts))
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    documented = tuple(t for terms in sections.values() for t, _ in terms)
    return OntologyDocs(page, documented, tuple(concepts), tuple(reader.warnings))


def document_project(project: Project) -> OntologyDocs:
    """The documentation of the project's ontology (ontology/*.ttl) with its shapes (shapes/*.ttl) and
    examples from the built graph."""
    ontology = load_ontology(project.ontology)
    shape_files = sorted(project.shapes.glob("*.ttl"))
    if not shape_files:
        raise BadInputError("no shapes files (*.ttl) found", path=project.shapes)
    return document_ontology(ontology.graph, load_graph(*shape_files), build(project).graph)


def write_docs(docs: OntologyDocs, folder: Path) -> Path:
    """Write the page as `folder/index.html`, atomically; the path written."""
    target = folder / "index.html"
    write_atomic(target, docs.html.encode("utf-8"))
    return target
