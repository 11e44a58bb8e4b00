"""SHACL shapes (shapes/*.ttl) as the quality gate: fixtures for every shape, the shipped graph, SHACL-for-SHACL.

Fixtures live in tests/data/shapes/<ShapeLocalName>/: `valid-*.ttl` must give no result from that shape,
`invalid-*.ttl` must give exactly the results its header lists, one line each:

    # expect: <focus node> <result path, or -> for none> <sh:...ConstraintComponent>

A result belongs to a shape when its sh:sourceShape is the node shape or one of its property shapes
(named kgsh: IRIs, attached with sh:property). Each fixture is validated together with the ontology,
against the whole shapes graph, as the build's graph is.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.namespaces import (
    DCTERMS,
    KG,
    KGCLAIM,
    KGR,
    KGV,
    OA,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SH,
    SKOS,
)
from kgtool.rdfio import load_graph
from kgtool.store import new_graph
from kgtool.validate import (
    Severity,
    ValidationReport,
    ValidationResult,
    load_shapes,
    validate,
)

KGSH = Namespace("https://w3id.org/kgtool/shapes#")
SHAPES_GRAPH = URIRef("https://w3id.org/kgtool/shapes")
NAMES = {**PREFIXES, "kgsh": str(KGSH), "sh": str(SH)}
FIXTURES = Path(__file__).resolve().parent / "data" / "shapes"
FIXTURE_FILES = sorted(FIXTURES.glob("*/*.ttl"))
EXPECT = re.compile(r"^# expect: (\S+) (\S+) (\S+)\s*$")
TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
SEVERITIES = {SH.Violation, SH.Warning, SH.Info}
# Constraint parameters a node shape may carry itself (reported with the node shape's sh:message).
NODE_PARAMETERS = (SH["class"], SH.datatype, SH.nodeKind, SH.pattern, SH["in"], SH["not"], SH["or"], SH.xone,
                   SH["and"], SH.node, SH.hasValue, SH.closed, SH.minInclusive, SH.maxInclusive,
                   SH.minExclusive, SH.maxExclusive, SH.minLength, SH.maxLength, SH.languageIn)

GYEAR = URIRef(PREFIXES["xsd"] + "gYear")  # (importing XSD itself makes pytest's collection warn)
POSITIVE_INTEGER = URIRef(PREFIXES["xsd"] + "positiveInteger")

Triple = tuple[Node, Node | None, Node]


@pytest.fixture(scope="module")
def shapes(project: Project) -> Graph:
    return load_shapes([project.shapes])


@pytest.fixture(scope="module")
def ontology(project: Project) -> Graph:
    return load_graph(*sorted(project.ontology.glob("*.ttl")))


@pytest.fixture(scope="module")
def shipped_report(built: BuildResult, shapes: Graph) -> ValidationReport:
    return validate(built.graph, shapes)


# ------------------------------------------------------------------------------------------------ helpers

def expand(name: str) -> URIRef:
    prefix, _, local = name.partition(":")
    if prefix not in NAMES or not local:
        raise AssertionError(f"{name!r} is not a prefixed name with a known prefix ({', '.join(NAMES)})")
    return URIRef(NAMES[prefix] + local)


def show(term: Node | None) -> str:
    if term is None:
        return "->"
    for prefix, iri in sorted(NAMES.items(), key=lambda item: -len(item[1])):
        if isinstance(term, URIRef) and str(term).startswith(iri):
            return f"{prefix}:{str(term)[len(iri):]}"
    return term.n3()


def show_all(triples: set[Triple]) -> str:
    return "\n  ".join(sorted(" ".join(show(t) for t in triple) for triple in triples)) or "(none)"


def expectations(path: Path) -> set[Triple]:
    expected: set[Triple] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# expect"):
            continue
        match = EXPECT.match(line)
        assert match, f"{path.name}: malformed header line {line!r}"
        focus, result_path, component = match.groups()
        assert component.startswith("sh:") and component.endswith("ConstraintComponent"), line
        expected.add((expand(focus), None if result_path == "->" else expand(result_path), expand(component)))
    return expected


def node_shapes(shapes: Graph) -> set[URIRef]:
    found = {s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)}
    return {s for s in found if any(shapes.value(s, target) is not None for target in TARGETS)}


def owned_by(shapes: Graph, shape: URIRef) -> set[Node]:
    """The node shape and its property shapes: the sh:sourceShape values of its results."""
    return {shape, *shapes.objects(shape, SH.property)}


def results_of(report: ValidationReport, shapes: Graph, shape: URIRef) -> list[ValidationResult]:
    owned = owned_by(shapes, shape)
    return [r for r in report.results if r.source_shape in owned]


def triples_of(results: list[ValidationResult]) -> set[Triple]:
    return {(r.focus_node, r.result_path, r.source_constraint_component) for r in results}


def one_shape(shapes: Graph, shape: URIRef) -> Graph:
    """The part of the shapes graph that defines one node shape (its property shapes, SPARQL, lists and
    the prefixes these declare), to check that a break is caught by the shape meant to catch it."""
    part = new_graph()
    todo: list[Node] = [shape]
    seen: set[Node] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for predicate, obj in shapes.predicate_objects(node):
            part.add((node, predicate, obj))
            if isinstance(obj, BNode) or predicate == SH.prefixes or (
                    isinstance(obj, URIRef) and str(obj).startswith(str(KGSH))):
                todo.append(obj)
    return part


def copy_of(graph: Graph) -> Graph:
    copy = new_graph()
    copy += graph
    return copy


# ------------------------------------------------------------------------------------------------ fixtures

def test_fixtures_are_there() -> None:
    assert len(FIXTURE_FILES) >= 2 * 60, "tests/data/shapes/ holds a valid and an invalid fixture for every shape"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURE_FILES])
def test_fixture(path: Path, project: Project, shapes: Graph) -> None:
    shape = KGSH[path.parent.name]
    assert (shape, RDF.type, SH.NodeShape) in shapes, f"{path.parent.name} is not a node shape in shapes/"
    assert path.name.startswith(("valid-", "invalid-")), path.name
    expected = expectations(path)
    if path.name.startswith("invalid-"):
        assert expected, f"{path.name}: an invalid fixture lists the results it expects (# expect: ...)"
    else:
        assert not expected, f"{path.name}: a valid fixture expects no result"
    data = load_graph(*sorted(project.ontology.glob("*.ttl")), path)
    got = triples_of(results_of(validate(data, shapes), shapes, shape))
    assert got == expected, (f"{path.parent.name}/{path.name}\n unexpected:\n  {show_all(got - expected)}"
                             f"\n missing:\n  {show_all(expected - got)}")


def test_every_shape_has_a_valid_and_an_invalid_fixture(shapes: Graph) -> None:
    missing = []
    for shape in sorted(node_shapes(shapes)):
        folder = FIXTURES / str(shape)[len(str(KGSH)):]
        for kind in ("valid", "invalid"):
            if not any(folder.glob(f"{kind}-*.ttl")):
                missing.append(f"{folder.name}/{kind}-*.ttl")
    assert not missing, "shapes without fixtures:\n  " + "\n  ".join(missing)
    unknown = sorted(folder.name for folder in FIXTURES.iterdir() if folder.is_dir()
                     and KGSH[folder.name] not in node_shapes(shapes))
    assert not unknown, f"fixture folders that name no targeted node shape: {unknown}"


# ------------------------------------------------------------------------------------------------ the shipped graph

def test_shipped_graph_has_no_violation_and_no_warning(shipped_report: ValidationReport) -> None:
    bad = [r for r in shipped_report.results if r.severity in (Severity.VIOLATION, Severity.WARNING)]
    assert not bad, "\n".join(f"{r.severity.value}: {show(r.focus_node)} {show(r.result_path)} "
                              f"({show(r.source_shape)}): {r.message}" for r in bad[:40])
    assert not shipped_report.fails(), "the quality gate passes the shipped graph"


def test_every_class_with_instances_has_a_shape_of_its_own(built: BuildResult, shapes: Graph) -> None:
    meta = (str(OWL), str(RDF), str(RDFS))
    classes = {c for c in built.graph.objects(None, RDF.type) if not str(c).startswith(meta)}
    assert KG.QuantitativeClaim in classes and OA.TextQuoteSelector in classes
    targeted = set(shapes.objects(None, SH.targetClass))
    missing = sorted(show(c) for c in classes - targeted)
    assert not missing, f"classes with instances but no node shape with sh:targetClass of that class: {missing}"


def test_every_target_class_exists_in_the_ontology(shapes: Graph, ontology: Graph) -> None:
    unknown = sorted(show(c) for c in set(shapes.objects(None, SH.targetClass))
                     if (c, RDF.type, OWL.Class) not in ontology)
    assert not unknown, f"shapes that target classes the ontology does not declare (they target nothing): {unknown}"
    properties = {s for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
                  for s in ontology.subjects(RDF.type, kind)}
    unknown = sorted(show(p) for target in (SH.targetSubjectsOf, SH.targetObjectsOf)
                     for p in shapes.objects(None, target) if p not in properties)
    assert not unknown, f"shapes that target subjects or objects of undeclared properties: {unknown}"


# ------------------------------------------------------------------------------------------------ the shapes graph

def test_every_shape_and_constraint_has_severity_and_message(shapes: Graph) -> None:
    problems = []
    for shape in sorted(node_shapes(shapes)):
        severities = set(shapes.objects(shape, SH.severity))
        if len(severities) != 1 or not severities <= SEVERITIES:
            problems.append(f"{show(shape)}: one sh:severity (Violation, Warning or Info), not {severities}")
        if any(shapes.value(shape, p) is not None for p in NODE_PARAMETERS) and shapes.value(shape, SH.message) is None:
            problems.append(f"{show(shape)}: constraints on the node itself need the shape's sh:message")
        owners: list[Node] = [shape]
        for prop in shapes.objects(shape, SH.property):
            owners.append(prop)
            if not isinstance(prop, URIRef) or not str(prop).startswith(str(KGSH)):
                problems.append(f"{show(shape)}: property shape {show(prop)} is not a named kgsh: IRI")
            severities = set(shapes.objects(prop, SH.severity))
            if len(severities) != 1 or not severities <= SEVERITIES:
                problems.append(f"{show(prop)}: one sh:severity (Violation, Warning or Info), not {severities}")
            if shapes.value(prop, SH.sparql) is None and shapes.value(prop, SH.message) is None:
                problems.append(f"{show(prop)}: no sh:message")
        for owner in owners:
            for sparql in shapes.objects(owner, SH.sparql):
                if shapes.value(owner, SH.message) is not None:
                    problems.append(f"{show(owner)}: a shape with sh:sparql leaves the message to the SPARQL "
                                    "constraint (pySHACL would report both)")
                if not isinstance(shapes.value(sparql, SH.message), Literal):
                    problems.append(f"{show(owner)}: its SPARQL constraint has no sh:message")
                if shapes.value(sparql, SH.severity) != shapes.value(owner, SH.severity):
                    problems.append(f"{show(owner)}: its SPARQL constraint's sh:severity differs from the shape's "
                                    "(pySHACL reports the shape's)")
                if shapes.value(sparql, SH.prefixes) != SHAPES_GRAPH or shapes.value(sparql, SH.select) is None:
                    problems.append(f"{show(owner)}: its SPARQL constraint needs sh:select and "
                                    f"sh:prefixes <{SHAPES_GRAPH}>")
    assert not problems, "\n".join(problems)
    assert next(shapes.objects(None, SH.sparql), None) is not None


def test_shape_iris_and_prefixes(project: Project, shapes: Graph) -> None:
    for shape in node_shapes(shapes):
        assert str(shape).startswith(str(KGSH)), shape
    declared = {str(shapes.value(d, SH.prefix)): str(shapes.value(d, SH.namespace))
                for d in shapes.objects(SHAPES_GRAPH, SH.declare)}
    wanted = {prefix: iri for prefix, iri in {**PREFIXES, "kgsh": str(KGSH)}.items() if prefix != "sh"}
    assert declared == wanted, "sh:declare lists the project's prefixes and kgsh:"
    for path in [*project.shapes.glob("*.ttl"), *FIXTURE_FILES]:
        for prefix, iri in re.findall(r"@prefix\s+(\w*):\s+<([^>]+)>", path.read_text(encoding="utf-8")):
            assert NAMES.get(prefix) == iri, f"{path.name}: @prefix {prefix}: differs from the project's"


def test_closed_lists_are_the_code_lists(shapes: Graph, ontology: Graph) -> None:
    def members(node: Node) -> set[Node]:
        lists = list(shapes.objects(node, SH["in"]))
        assert len(lists) == 1, f"{show(node)} has one sh:in"
        return set(Collection(shapes, lists[0]))

    for scheme, node_shape, property_shape in (
            ("measures", "MeasureShape", "QuantitativeClaimShape-measure"),
            ("units", "UnitShape", "QuantitativeClaimShape-unit"),
            ("qualifiers", "QualifierShape", "QuantitativeClaimShape-qualifier"),
            ("classification-systems", "ClassificationSystemShape", "QuantitativeClaimShape-classificationSystem")):
        codes = set(ontology.subjects(SKOS.inScheme, KGV[scheme]))
        assert codes, scheme
        assert members(KGSH[node_shape]) == codes, f"kgsh:{node_shape} sh:in is not kgv:{scheme}"
        assert members(KGSH[property_shape]) == codes, f"kgsh:{property_shape} sh:in is not kgv:{scheme}"
    assert members(KGSH.ConceptSchemeShape) == set(ontology.subjects(RDF.type, SKOS.ConceptScheme))


def test_shapes_graph_is_valid_shacl(shapes: Graph) -> None:
    """pySHACL's meta_shacl validates the shapes graph against SHACL-for-SHACL (shacl-shacl.ttl) first."""
    report = validate(new_graph(), shapes, meta_shacl=True)
    assert report.conforms


def test_broken_shapes_graph_is_rejected(shapes: Graph) -> None:
    broken = copy_of(shapes)
    broken.remove((KGSH["QuantitativeClaimShape-unit"], SH.minCount, None))
    broken.add((KGSH["QuantitativeClaimShape-unit"], SH.minCount, Literal("x")))
    with pytest.raises(BadInputError, match="not valid SHACL.*MetaSHACL"):
        validate(new_graph(), broken, meta_shacl=True)


def test_meta_shacl_catches_what_validation_alone_lets_through(shapes: Graph) -> None:
    """A literal severity is not SHACL, yet pySHACL validates with it unless meta_shacl is on."""
    part = one_shape(shapes, KGSH.OfficeShape)
    part.set((KGSH["OfficeShape-officeIn"], SH.severity, Literal("Violation")))
    validate(new_graph(), part)
    with pytest.raises(BadInputError, match="MetaSHACL"):
        validate(new_graph(), part, meta_shacl=True)


# ------------------------------------------------------------------------------------------------ breaking the shipped graph

def caught(graph: Graph, shapes: Graph, shape: URIRef) -> list[ValidationResult]:
    return results_of(validate(graph, one_shape(shapes, shape)), shapes, shape)


def test_quantity_without_unit_is_caught(built: BuildResult, shapes: Graph) -> None:
    claim = KGCLAIM["002-russia-rem-reserves-rosnedra-2024"]
    graph = copy_of(built.graph)
    assert graph.value(claim, KG.unit) == KGV.tonne
    graph.remove((claim, KG.unit, None))
    results = caught(graph, shapes, KGSH.QuantitativeClaimShape)
    assert [(r.focus_node, r.result_path, r.source_constraint_component, r.severity) for r in results] == [
        (claim, KG.unit, SH.MinCountConstraintComponent, Severity.VIOLATION)]
    assert results[0].source_shape == KGSH["QuantitativeClaimShape-unit"] and "unit" in results[0].message


def test_relation_ending_before_it_starts_is_caught(built: BuildResult, shapes: Graph) -> None:
    graph = copy_of(built.graph)
    both = [(c, s, e) for c, s in graph.subject_objects(KG.startTime) for e in graph.objects(c, KG.endTime)
            if str(s)[:4].isdigit() and str(e)[:4].isdigit() and str(s)[:4] < str(e)[:4]]
    if both:  # swap a claim's start and end
        claim, start, end = min(both)
        graph.set((claim, KG.startTime, end))
        graph.set((claim, KG.endTime, start))
    else:  # no claim has both: give one that starts an end a year earlier
        claim, start = min((c, s) for c, s in graph.subject_objects(KG.startTime) if str(s)[:4].isdigit())
        graph.add((claim, KG.endTime, Literal(str(int(str(start)[:4]) - 1), datatype=GYEAR)))
    results = caught(graph, shapes, KGSH.RelationIntervalShape)
    assert triples_of(results) == {(claim, KG.endTime, SH.SPARQLConstraintComponent)}
    assert results[0].severity is Severity.VIOLATION and "before it starts" in results[0].message


def test_control_cycle_is_caught(built: BuildResult, shapes: Graph) -> None:
    plant, rosatom = KGR["solikamsk-magnesium-plant"], KGR.rosatom
    graph = copy_of(built.graph)
    assert (plant, KG.controlledBy, rosatom) in graph
    graph.add((rosatom, KG.controlledBy, plant))
    results = caught(graph, shapes, KGSH.ControlShape)
    cycle = {r.focus_node for r in results if r.source_constraint_component == SH.SPARQLConstraintComponent}
    assert cycle == {rosatom, plant}
    named = [r for r in results if r.focus_node == rosatom and r.source_shape == KGSH.ControlShape]
    assert named[0].severity is Severity.VIOLATION and str(rosatom) in named[0].message


def test_quote_not_in_its_document_is_caught(built: BuildResult, shapes: Graph) -> None:
    graph = copy_of(built.graph)
    claim = KGCLAIM["002-russia-rem-reserves-rosnedra-2024"]
    evidence = graph.value(claim, KG.hasEvidence)
    quote = next(s for s in graph.objects(evidence, OA.hasSelector) if (s, RDF.type, OA.TextQuoteSelector) in graph)
    exact = str(graph.value(quote, OA.exact))
    assert "28.7" in exact
    graph.set((quote, OA.exact, Literal(exact.replace("28.7", "28.9"))))
    results = caught(graph, shapes, KGSH.EvidenceShape)
    assert [(r.focus_node, r.result_path, r.value, r.source_constraint_component, r.severity) for r in results] == [
        (evidence, OA.hasSelector, quote, SH.SPARQLConstraintComponent, Severity.VIOLATION)]


def test_rare_earth_with_wrong_atomic_number_is_caught(built: BuildResult, shapes: Graph) -> None:
    graph = copy_of(built.graph)
    element = KGR.scandium
    assert (element, RDF.type, KG.RareEarthElement) in graph
    graph.set((element, KG.atomicNumber, Literal(40, datatype=POSITIVE_INTEGER)))
    results = caught(graph, shapes, KGSH.RareEarthElementShape)
    assert [(r.focus_node, r.result_path, r.source_constraint_component, r.severity) for r in results] == [
        (element, KG.atomicNumber, SH.SPARQLConstraintComponent, Severity.VIOLATION)]
    assert "40" in results[0].message


def test_background_claims_need_their_reference(built: BuildResult, shapes: Graph) -> None:
    """Claims not from the corpus carry no document and no evidence, only dcterms:source; without it, caught."""
    graph = copy_of(built.graph)
    background = sorted((c for c in graph.subjects(DCTERMS.source, None)
                         if (c, RDF.type, KG.RelationClaim) in graph and graph.value(c, PROV.wasDerivedFrom) is None),
                        key=str)
    assert background, "data/background.yaml gives the shipped graph background claims"
    graph.remove((background[0], DCTERMS.source, None))
    results = caught(graph, shapes, KGSH.ClaimShape)
    assert triples_of(results) == {(background[0], KG.hasEvidence, SH.SPARQLConstraintComponent)}
