"""OWL reasoning with owlready2 (HermiT by default, Pellet on request). The only owlready2 import.

HermiT rejects literals whose datatype is outside the OWL 2 datatype map (xsd:date, xsd:gYear, ...),
so the reasoner sees a view of the graph without those literals; it is told which were left out.
owl:imports are never followed (owlready2 would fetch them): the reasoner sees the graph it is given,
and the report lists the imports it left out.
An inconsistency comes back from the reasoner without explanation, so kgtool looks for the
individuals whose asserted and domain/range-implied types fall in disjoint classes and names them.
"""
from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection

from .errors import ExternalComponentError
from .namespaces import OWL, RDF, RDFS, XSD
from .store import new_graph

NOT_OWL2_DATATYPES = frozenset({XSD.date, XSD.gYear, XSD.gYearMonth, XSD.gMonth, XSD.gMonthDay, XSD.gDay})
JAVA_MEMORY_MB = 2000


class Reasoner(str, Enum):
    HERMIT = "hermit"
    PELLET = "pellet"


@dataclass(frozen=True)
class Clash:
    """An individual whose types fall in two disjoint classes, and where each type came from."""

    individual: URIRef
    first: URIRef
    second: URIRef
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReasoningReport:
    """What the reasoner concluded about the ontology and the graph."""

    reasoner: Reasoner
    consistent: bool
    unsatisfiable: tuple[URIRef, ...]
    clashes: tuple[Clash, ...]
    omitted_literals: int
    inferred: Graph = field(compare=False)
    ignored_imports: tuple[URIRef, ...] = ()

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable


def reasoner_view(graph: Graph) -> tuple[Graph, int]:
    """The graph without literals of non-OWL 2 datatypes, and how many triples that removed."""
    view = new_graph()
    omitted = 0
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype in NOT_OWL2_DATATYPES:
            omitted += 1
            continue
        view.add((s, p, o))
    return view, omitted


def _superclasses(graph: Graph) -> dict[URIRef, set[URIRef]]:
    parents: dict[URIRef, set[URIRef]] = defaultdict(set)
    for sub, sup in graph.subject_objects(RDFS.subClassOf):
        if isinstance(sub, URIRef) and isinstance(sup, URIRef):
            parents[sub].add(sup)
    closure: dict[URIRef, set[URIRef]] = {}

    def up(cls: URIRef) -> set[URIRef]:
        if cls not in closure:
            closure[cls] = {cls}
            for parent in parents.get(cls, ()):
                closure[cls] |= up(parent)
        return closure[cls]

    for cls in list(parents):
        up(cls)
    return defaultdict(set, closure)


def _disjoint_pairs(graph: Graph) -> set[frozenset[URIRef]]:
    pairs: set[frozenset[URIRef]] = set()
    for a, b in graph.subject_objects(OWL.disjointWith):
        if isinstance(a, URIRef) and isinstance(b, URIRef):
            pairs.add(frozenset((a, b)))
    for node in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        head = graph.value(node, OWL.members)
        if head is None:
            continue
        members = [m for m in Collection(graph, head) if isinstance(m, URIRef)]
        pairs |= {frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1:]}
    return pairs


def find_clashes(graph: Graph) -> list[Clash]:
    """Individuals typed (directly, by subclass, or by a property's domain or range) in disjoint classes."""
    supers = _superclasses(graph)
    domains = {p: set(graph.objects(p, RDFS.domain)) for p in set(graph.subjects(RDFS.domain, None))}
    ranges = {p: set(graph.objects(p, RDFS.range)) for p in set(graph.subjects(RDFS.range, None))}
    why: dict[URIRef, dict[URIRef, str]] = defaultdict(dict)

    def note(node: object, cls: object, reason: str) -> None:
        if isinstance(node, URIRef) and isinstance(cls, URIRef):
            for sup in supers.get(cls, {cls}) | {cls}:
                why[node].setdefault(sup, reason)

    for s, o in graph.subject_objects(RDF.type):
        if (o, RDF.type, OWL.Class) in graph:
            note(s, o, f"typed {graph.namespace_manager.normalizeUri(str(o))}")
    for s, p, o in graph:
        short = graph.namespace_manager.normalizeUri(p) if isinstance(p, URIRef) else str(p)
        for cls in domains.get(p, ()):
            note(s, cls, f"subject of {short}")
        if isinstance(o, URIRef):
            for cls in ranges.get(p, ()):
                note(o, cls, f"object of {short} from {graph.namespace_manager.normalizeUri(str(s))}")
    clashes = []
    for pair in sorted(_disjoint_pairs(graph), key=lambda p: sorted(map(str, p))):
        first, second = sorted(pair, key=str)
        for node in sorted(why, key=str):
            if first in why[node] and second in why[node]:
                clashes.append(Clash(node, first, second, (why[node][first], why[node][second])))
    return clashes


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ExternalComponentError("Java is not installed or not on PATH; the OWL reasoners need it",
                                     hint="install a JRE (scripts/setup.sh does: apt-get install default-jre-headless)")
    return java


def reason(graph: Graph, *, reasoner: Reasoner = Reasoner.HERMIT) -> ReasoningReport:
    """Check consistency and satisfiability; return inferred types and subclass axioms as a graph."""
    import owlready2  # heavy: imported only when reasoning is asked for

    owlready2.JAVA_EXE = _java()
    owlready2.reasoning.JAVA_MEMORY = JAVA_MEMORY_MB
    view, omitted = reasoner_view(graph)
    # owlready2 would download every owl:imports (or read it from disk): the reasoner sees this graph only
    imports = tuple(sorted({o for o in view.objects(None, OWL.imports) if isinstance(o, URIRef)}))
    view.remove((None, OWL.imports, None))
    with tempfile.TemporaryDirectory(prefix="kgtool-reason-") as folder:
        path = Path(folder) / "graph.nt"
        path.write_bytes(view.serialize(format="nt", encoding="utf-8"))
        world = owlready2.World()
        try:
            ontology = world.get_ontology(path.as_uri()).load(format="ntriples")
        except Exception as error:
            raise ExternalComponentError(f"owlready2 could not load the graph: {error}") from None
        run = owlready2.sync_reasoner_pellet if reasoner is Reasoner.PELLET else owlready2.sync_reasoner_hermit
        consistent = True
        try:
            with ontology:
                run(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            consistent = False
        except owlready2.OwlReadyJavaError as error:
            raise ExternalComponentError(f"the {reasoner.value} reasoner failed: {str(error).strip()[:500]}") from None
        unsatisfiable: tuple[URIRef, ...] = ()
        inferred = new_graph()
        if consistent:
            unsatisfiable = tuple(sorted(URIRef(c.iri) for c in world.inconsistent_classes()
                                         if c is not owlready2.Nothing))
            asserted = {(s, o) for s, o in view.subject_objects(RDF.type)}
            for subject in sorted(set(view.subjects(RDF.type, None)), key=str):
                individual = world[str(subject)]
                if not isinstance(individual, owlready2.Thing):
                    continue
                for cls in individual.INDIRECT_is_a:
                    if isinstance(cls, owlready2.ThingClass) and cls is not owlready2.Thing:
                        pair = (URIRef(individual.iri), URIRef(cls.iri))
                        if pair not in asserted:
                            inferred.add((pair[0], RDF.type, pair[1]))
            for cls in ontology.classes():
                for sup in cls.ancestors(include_self=False):
                    if sup is not owlready2.Thing and isinstance(sup, owlready2.ThingClass):
                        inferred.add((URIRef(cls.iri), RDFS.subClassOf, URIRef(sup.iri)))
    clashes = () if consistent else tuple(find_clashes(view))
    return ReasoningReport(reasoner, consistent, unsatisfiable, clashes, omitted, inferred, imports)
