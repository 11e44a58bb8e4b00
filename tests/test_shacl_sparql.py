"""The SPARQL validation engine (kgtool.shacl_sparql) gives the results pySHACL gives.

On every shape fixture, on the shipped graph and on synthetic graphs with planted violations, the fast
path and pySHACL (kgtool.validate.validate) report the same results: focus node, path, constraint
component and severity, and on the project's shapes also the same value, source shape and message.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.errors import BadInputError, ExternalComponentError
from kgtool.namespaces import KG, RDF, SH
from kgtool.rdfio import load_graph
from kgtool.shacl_sparql import (
    EVERY_PREDICATE,
    OxigraphRunner,
    ShapesPlan,
    Solutions,
    UnsupportedShapeError,
    load_store,
    validate_sparql,
)
from kgtool.synth import synth, write_synth
from kgtool.validate import ValidationReport, _results, load_shapes, validate

FIXTURES = Path(__file__).resolve().parent / "data" / "shapes"
FIXTURE_FILES = sorted(FIXTURES.glob("*/*.ttl"))
EX = "http://example.org/"


@pytest.fixture(scope="module")
def shapes(project: Project) -> Graph:
    return load_shapes([project.shapes])


@pytest.fixture(scope="module")
def plan(shapes: Graph) -> ShapesPlan:
    return ShapesPlan(shapes)


@pytest.fixture(scope="module")
def ontology_files(project: Project) -> list[Path]:
    return sorted(project.ontology.glob("*.ttl"))


def keys(report: ValidationReport) -> Counter[tuple[Any, ...]]:
    return Counter((r.focus_node, r.result_path, r.source_constraint_component, r.severity) for r in report.results)


def full(report: ValidationReport) -> Counter[tuple[Any, ...]]:
    return Counter((r.focus_node, r.result_path, r.source_constraint_component, r.severity, r.value, r.source_shape,
                    r.message) for r in report.results)


def same(ours: ValidationReport, theirs: ValidationReport, *, exact: bool = True) -> None:
    mine, pyshacl = (full(ours), full(theirs)) if exact else (keys(ours), keys(theirs))
    assert mine == pyshacl, f"only the SPARQL engine: {mine - pyshacl}\nonly pySHACL: {pyshacl - mine}"
    assert ours.conforms == theirs.conforms


# ------------------------------------------------------------------------------------------------ agreement

@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURE_FILES])
def test_fixture(path: Path, ontology_files: list[Path], shapes: Graph, plan: ShapesPlan) -> None:
    data = load_graph(*ontology_files, path)
    same(validate_sparql(data, plan), validate(data, shapes))


def test_shipped_graph(built: BuildResult, shapes: Graph) -> None:
    ours = validate_sparql(built.graph, shapes)
    same(ours, validate(built.graph, shapes))
    assert ours.results and not ours.fails(), "the shipped graph has infos only"


@pytest.mark.parametrize("size,seed", [(5_000, 7), (12_000, 99)])
def test_synthetic_graph_with_planted_violations(size: int, seed: int, shapes: Graph, plan: ShapesPlan) -> None:
    result = synth(size, seed)
    ours = validate_sparql(result.graph, plan)
    same(ours, validate(result.graph, shapes))
    planted = Counter(v.key() for v in result.manifest.violations)
    assert Counter((k[0], k[1], k[2], k[3].iri) for k in keys(ours).elements()) == planted


def test_files_and_stores_give_the_same_results(tmp_path: Path, plan: ShapesPlan) -> None:
    """N-Triples straight into Oxigraph (not through rdflib), Turtle, and a store loaded beforehand."""
    path = tmp_path / "synth.nt"
    manifest = write_synth(path, 6_000, 3)
    planted = Counter(v.key() for v in manifest.violations)

    def planted_keys(report: ValidationReport) -> Counter[tuple[Any, ...]]:
        return Counter((r.focus_node, r.result_path, r.source_constraint_component, r.severity.iri)
                       for r in report.results)

    assert planted_keys(validate_sparql(path, plan)) == planted
    turtle = tmp_path / "synth.ttl"
    turtle.write_bytes(ox.serialize(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES),
                                    format=ox.RdfFormat.TURTLE) or b"")
    assert planted_keys(validate_sparql([turtle], plan)) == planted
    store = load_store(path, preserve=plan.preserved)
    assert planted_keys(validate_sparql(store, plan)) == planted


def test_report_graph_is_a_shacl_report(built: BuildResult, shapes: Graph) -> None:
    graph = built.graph + Graph()
    claim = next(graph.subjects(KG.unit, None))
    graph.remove((claim, KG.unit, None))
    report = validate_sparql(graph, shapes)
    root = next(report.graph.subjects(RDF.type, SH.ValidationReport))
    assert report.graph.value(root, SH.conforms) == Literal(False)
    results = list(report.graph.objects(root, SH.result))
    assert len(results) == len(report.results)
    for node in results:
        for predicate in (SH.focusNode, SH.sourceShape, SH.sourceConstraintComponent, SH.resultSeverity,
                          SH.resultMessage):
            assert report.graph.value(node, predicate) is not None, predicate
    # the graph says what the values say: kgtool.validate reads it back to the same results
    assert _results(report.graph) == report.results


# ------------------------------------------------------------------------------------------------ SHACL Core beyond the project's shapes

GENERAL_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:PersonShape a sh:NodeShape ; sh:targetClass ex:Person ;
    sh:closed true ; sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
    sh:property ex:P-name , ex:P-age , ex:P-born , ex:P-email , ex:P-knows , ex:P-parent , ex:P-nick , ex:P-club .
ex:P-name sh:path ex:name ; sh:minCount 1 ; sh:maxLength 10 ; sh:languageIn ( "en" "de" ) ; sh:uniqueLang true .
ex:P-age sh:path ex:age ; sh:maxCount 1 ; sh:datatype xsd:integer ; sh:minExclusive 0 ; sh:maxExclusive 150 .
ex:P-born sh:path ex:born ; sh:lessThanOrEquals ex:died ; sh:datatype xsd:date .
ex:P-email sh:path ex:email ; sh:pattern "^MAILTO:" ; sh:flags "i" ; sh:nodeKind sh:IRI .
ex:P-knows sh:path ex:knows ; sh:node ex:NamedShape ; sh:disjoint ex:parent .
ex:P-parent sh:path ( ex:parent ex:name ) ; sh:minCount 1 ; sh:equals ex:parentName ; sh:severity sh:Warning .
ex:P-nick sh:path [ sh:alternativePath ( ex:nick ex:alias ) ] ; sh:maxCount 2 ;
    sh:and ( [ sh:minLength 2 ] [ sh:datatype xsd:string ] ) .
ex:P-club sh:path [ sh:inversePath ex:member ] ; sh:class ex:Club ; sh:severity sh:Info .
ex:NamedShape a sh:NodeShape ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .
ex:ClubShape a sh:NodeShape ; sh:targetObjectsOf ex:member ; sh:or ( [ sh:class ex:Club ] [ sh:class ex:Team ] ) ;
    sh:property [ sh:path ex:founded ; sh:datatype xsd:gYear ; sh:hasValue "1900"^^xsd:gYear ] .
ex:NodeTargetShape a sh:NodeShape ; sh:targetNode ex:alice , ex:nobody ; sh:in ( ex:alice ex:bob ) .
ex:Dog a rdfs:Class , sh:NodeShape ;
    sh:property [ sh:path ex:legs ; sh:minInclusive 3 ; sh:maxInclusive 4 ; sh:datatype xsd:nonNegativeInteger ] .
ex:CountShape a sh:NodeShape ; sh:targetSubjectsOf ex:toy ;
    sh:property [ sh:path ex:toy ; sh:minCount 2 ; sh:maxCount 3 ;
                  sh:qualifiedValueShape [ sh:class ex:Ball ] ; sh:qualifiedMinCount 1 ; sh:qualifiedMaxCount 1 ] .
ex:NotShape a sh:NodeShape ; sh:targetClass ex:Team ; sh:not [ sh:class ex:Club ] ;
    sh:sparql [ sh:select "SELECT $this ?value WHERE { $this ex:founded ?value . FILTER NOT EXISTS { $this ex:member ?m . ?m ex:name ?n } }" ;
                sh:prefixes [ sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^xsd:anyURI ] ] ;
                sh:message "{$this} founded {?value} has no named member" ] .
"""

GENERAL_DATA = """
@prefix ex: <http://example.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:Student rdfs:subClassOf ex:Person .
ex:alice a ex:Person ; ex:name "Alice"@en , "Alicia"@EN , "A very long name"@fr ;
    ex:age 30 , "31"^^xsd:integer ; ex:born "2000-01-01"^^xsd:date ; ex:died "1999-01-01"^^xsd:date ;
    ex:email <mailto:alice@example.org> , "mailto:x" , <http://example.org/alice> ; ex:knows ex:bob , ex:carol ; ex:parent ex:bob ;
    ex:nick "A" , "Al" ; ex:alias "Ally" ; ex:extra "not allowed" .
ex:bob a ex:Student ; ex:name "Bob" ; ex:age "-1"^^xsd:integer , "abc"^^xsd:integer ; ex:parentName "Bob" ;
    ex:born "2001-02-30"^^xsd:date .
ex:carol a ex:Person ; ex:age 200 ; ex:parent ex:dave ; ex:parentName "Dave" ; ex:nick 5 .
ex:dave ex:name "Dave" .
ex:club1 a ex:Club ; ex:member ex:alice ; ex:founded "1900"^^xsd:gYear .
ex:team1 a ex:Team , ex:Club ; ex:member ex:bob ; ex:founded "1950"^^xsd:gYear .
ex:team2 a ex:Team ; ex:member ex:erin ; ex:founded "1960"^^xsd:gYear .
ex:thing ex:member ex:carol .
ex:rex a ex:Dog ; ex:legs "5"^^xsd:nonNegativeInteger , "3"^^xsd:integer .
ex:fido a ex:Dog ; ex:legs "4"^^xsd:nonNegativeInteger .
ex:kid ex:toy ex:ball1 , ex:ball2 , ex:doll , ex:car .
ex:ball1 a ex:Ball . ex:ball2 a ex:Ball .
ex:kid2 ex:toy ex:doll .
"""


def test_every_core_component_and_target_agrees_with_pyshacl() -> None:
    shapes = Graph().parse(data=GENERAL_SHAPES, format="turtle")
    data = Graph().parse(data=GENERAL_DATA, format="turtle")
    ours, theirs = validate_sparql(data, shapes), validate(data, shapes)
    same(ours, theirs, exact=False)
    components = {str(r.source_constraint_component).split("#")[1] for r in ours.results}
    assert {"ClosedConstraintComponent", "EqualsConstraintComponent", "DisjointConstraintComponent",
            "LessThanOrEqualsConstraintComponent", "LanguageInConstraintComponent", "UniqueLangConstraintComponent",
            "MaxExclusiveConstraintComponent", "MinExclusiveConstraintComponent", "MaxLengthConstraintComponent",
            "NodeConstraintComponent", "AndConstraintComponent", "OrConstraintComponent", "NotConstraintComponent",
            "HasValueConstraintComponent", "InConstraintComponent", "QualifiedMaxCountConstraintComponent",
            "QualifiedMinCountConstraintComponent", "DatatypeConstraintComponent", "MaxInclusiveConstraintComponent",
            "PatternConstraintComponent", "NodeKindConstraintComponent", "ClassConstraintComponent",
            "MinCountConstraintComponent", "MaxCountConstraintComponent", "SPARQLConstraintComponent"} <= components
    sparql = [r for r in ours.results if r.source_constraint_component == SH.SPARQLConstraintComponent]
    assert [r.message for r in sparql] == [f"{EX}team2 founded 1960 has no named member"]


def test_literals_keep_the_datatype_oxigraph_would_change(tmp_path: Path) -> None:
    """Oxigraph stores "5"^^xsd:nonNegativeInteger as "5"^^xsd:integer: the verbatim copies keep them apart."""
    shapes = Graph().parse(data=GENERAL_SHAPES, format="turtle")
    data = tmp_path / "dogs.nt"
    data.write_text(
        f'<{EX}rex> <{RDF.type}> <{EX}Dog> .\n'
        f'<{EX}rex> <{EX}legs> "4"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger> .\n'
        f'<{EX}max> <{RDF.type}> <{EX}Dog> .\n'
        f'<{EX}max> <{EX}legs> "04"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        f'<{EX}Dog> <{RDF.type}> <http://www.w3.org/2000/01/rdf-schema#Class> .\n', encoding="utf-8")
    report = validate_sparql(data, shapes)
    legs = [(r.focus_node, r.value) for r in report.results if r.result_path == URIRef(f"{EX}legs")]
    assert legs == [(URIRef(f"{EX}max"), Literal("04", datatype=URIRef("http://www.w3.org/2001/XMLSchema#integer")))]
    plain = ox.Store()
    plain.load(path=str(data), format=ox.RdfFormat.N_TRIPLES)
    with pytest.raises(BadInputError, match="load_store"):
        validate_sparql(plain, shapes)


# ------------------------------------------------------------------------------------------------ once per constraint

class CountingStore:
    """A store that counts the queries it is asked."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.texts: list[str] = []

    def query(self, text: str, **options: Any) -> Any:
        self.texts.append(text)
        return self.store.query(text, **options)


def test_each_sparql_constraint_runs_once_for_all_focus_nodes(plan: ShapesPlan) -> None:
    counts = []
    for size in (6_000, 18_000):
        result = synth(size, 21)
        counting = CountingStore(load_store(result.graph, preserve=plan.preserved))
        plan.validate(counting, source=result.graph)
        for marker in ("kg:hedge ?hedge", "SUBSTR(?content", "?kgtool_s ?kgtool_o"):  # the last: the cycle check
            assert sum(marker in text for text in counting.texts) == 1, marker
        claims = len(set(result.graph.subjects(KG.claimSubject, None)))
        counts.append((claims, len(counting.texts)))
    (small_claims, small_queries), (big_claims, big_queries) = counts
    assert big_claims > 2 * small_claims > 200
    assert abs(big_queries - small_queries) <= 0.1 * small_queries, "the number of queries does not grow with the data"


# ------------------------------------------------------------------------------------------------ what it does not do

UNSUPPORTED = {
    "sh:target": """ex:S a sh:NodeShape ; sh:target [ a sh:SPARQLTarget ; sh:select "SELECT ?this WHERE { ?this a ex:A }" ] ;
                     sh:property [ sh:path ex:p ; sh:minCount 1 ] .""",
    "qualifiedValueShapesDisjoint": """ex:S a sh:NodeShape ; sh:targetClass ex:A ; sh:property [ sh:path ex:p ;
                     sh:qualifiedValueShape [ sh:class ex:B ] ; sh:qualifiedMinCount 1 ;
                     sh:qualifiedValueShapesDisjoint true ] .""",
    "LIMIT": """ex:S a sh:NodeShape ; sh:targetClass ex:A ;
                     sh:sparql [ sh:select "SELECT $this WHERE { $this ex:p ?o } LIMIT 1" ] .""",
    "$currentShape": """ex:S a sh:NodeShape ; sh:targetClass ex:A ;
                     sh:sparql [ sh:select "SELECT $this WHERE { $this ex:p $currentShape }" ] .""",
    "the constraint component": """ex:C a sh:ConstraintComponent ; sh:parameter [ sh:path ex:size ] ;
                     sh:validator [ a sh:SPARQLAskValidator ; sh:ask "ASK { FILTER (true) }" ] .
                     ex:S a sh:NodeShape ; sh:targetClass ex:A ; ex:size 3 .""",
    "sh:sparql in a shape used by": """ex:S a sh:NodeShape ; sh:targetClass ex:A ; sh:node ex:T .
                     ex:T a sh:NodeShape ; sh:sparql [ sh:select "SELECT $this WHERE { $this ex:p ?o }" ] .""",
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_features_are_named_never_skipped(name: str) -> None:
    text = "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n" + UNSUPPORTED[name]
    shapes = Graph().parse(data=text, format="turtle")
    with pytest.raises(UnsupportedShapeError) as caught:
        validate_sparql(Graph(), shapes)
    assert any(name in problem for problem in caught.value.problems), caught.value.problems
    assert caught.value.exit_code == 3 and "pyshacl" in caught.value.render()


def test_blank_nodes_of_an_rdflib_graph_come_back_as_themselves() -> None:
    shapes = Graph().parse(data=GENERAL_SHAPES, format="turtle")
    data = Graph()
    anonymous = BNode("kid3")
    data.add((anonymous, URIRef(f"{EX}toy"), URIRef(f"{EX}doll")))
    report = validate_sparql(data, shapes)
    assert {r.focus_node for r in report.results if isinstance(r.focus_node, BNode)} == {anonymous}
    assert keys(report) == keys(validate(data, shapes))


def test_prefixed_names_that_look_like_sparql_keywords_are_no_problem() -> None:
    """kgv:count is a measure, not COUNT(...); ?limit is a variable, not LIMIT."""
    shapes = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:S a sh:NodeShape ; sh:targetClass ex:A ; sh:sparql [ sh:message "counted" ;
            sh:prefixes [ sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^xsd:anyURI ] ] ;
            sh:select "SELECT $this ?limit WHERE { $this ex:measure ex:count ; ex:limit ?limit . }" ] .
        """, format="turtle")
    data = Graph().parse(data="""@prefix ex: <http://example.org/> .
        ex:a a ex:A ; ex:measure ex:count ; ex:limit 3 . ex:b a ex:A ; ex:measure ex:other .""", format="turtle")
    ours = validate_sparql(data, shapes)
    assert [r.focus_node for r in ours.results] == [URIRef(f"{EX}a")]
    assert keys(ours) == keys(validate(data, shapes))


# ------------------------------------------------------------------------------------------------ where the queries run

class PortableRunner(OxigraphRunner):
    """Oxigraph, with the queries compiled as for a SPARQL server: one check a query, failures selected by
    FILTER alone (what kgtool.endpoint.EndpointRunner asks for, Virtuoso being what it is)."""

    portable = True


class NoCycles(OxigraphRunner):
    """A runner whose transitive paths find no cycles (as Virtuoso 7's)."""

    cycles = False


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURE_FILES])
def test_portable_queries_agree_with_pyshacl_on_every_fixture(path: Path, ontology_files: list[Path],
                                                              shapes: Graph, plan: ShapesPlan) -> None:
    data = load_graph(*ontology_files, path)
    ours = plan.run(PortableRunner(load_store(data, preserve=plan.preserved)), source=data)
    same(ours, validate(data, shapes))


def test_portable_queries_find_the_planted_violations(plan: ShapesPlan) -> None:
    result = synth(6_000, 5)
    ours = plan.run(PortableRunner(load_store(result.graph, preserve=plan.preserved)), source=result.graph)
    assert Counter((k[0], k[1], k[2], k[3].iri) for k in keys(ours).elements()) == Counter(
        v.key() for v in result.manifest.violations)


def test_one_worker_or_several_give_the_same_report(plan: ShapesPlan) -> None:
    result = synth(12_000, 17)
    store = load_store(result.graph, preserve=plan.preserved)
    alone, together = (plan.validate(store, source=result.graph, workers=n) for n in (1, 4))
    same(alone, together)
    assert alone.results


def test_values_in_results_are_as_the_file_writes_them(tmp_path: Path, shapes: Graph, plan: ShapesPlan) -> None:
    """Oxigraph stores "140.0"^^xsd:decimal as "140": results read from files still say 140.0, as pySHACL does."""
    path = tmp_path / "synth.nt"
    write_synth(path, 6_000, 3)
    ours = validate_sparql(path, plan)
    same(ours, validate(load_graph(path), shapes))
    assert any(isinstance(r.value, Literal) and r.value.datatype is not None and "." in str(r.value)
               for r in ours.results), "a decimal with a trailing zero among the planted values"


CYCLE_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:Prefixes sh:declare [ sh:prefix "ex" ; sh:namespace "http://example.org/"^^xsd:anyURI ] .
ex:CycleShape a sh:NodeShape ; sh:targetClass ex:Firm ;
    sh:sparql [ sh:prefixes ex:Prefixes ; sh:message "{$this} is on a cycle" ;
                sh:select "SELECT DISTINCT $this WHERE { $this (ex:owns|^ex:ownedBy|ex:via/ex:to)+ $this . }" ] .
"""

CYCLE_DATA = """
@prefix ex: <http://example.org/> .
ex:selfish a ex:Firm ; ex:owns ex:selfish .
ex:a a ex:Firm ; ex:owns ex:b . ex:b a ex:Firm . ex:a ex:ownedBy ex:b .
ex:c a ex:Firm ; ex:via ex:hop . ex:hop ex:to ex:d . ex:d ex:owns ex:c .
ex:e a ex:Firm ; ex:owns ex:a .
ex:f a ex:Firm ; ex:via ex:g . ex:g ex:to ex:f .
ex:x ex:owns ex:y . ex:y ex:owns ex:x .
ex:lit a ex:Firm ; ex:via "v" . ex:other ex:to ex:lit .
"""


def test_cycles_are_found_from_the_steps_of_the_path_where_transitive_paths_skip_them(plan: ShapesPlan,
                                                                                        shapes: Graph) -> None:
    """On a runner whose transitive paths skip cycles (Virtuoso 7's), `$this PATH+ $this` is run by
    fetching PATH's steps in one plain query and finding the cycles here: pySHACL's results, on the
    project's shapes (the control cycles synth plants) and on cycles through inverses and sequences,
    a step from a node to itself, and cycles that no focus node is on."""
    result = synth(6_000, 5)
    runner = NoCycles(load_store(result.graph, preserve=plan.preserved))
    ours = plan.run(runner, source=result.graph)
    same(ours, validate(result.graph, shapes))
    assert [r for r in ours.results if r.source_shape == URIRef("https://w3id.org/kgtool/shapes#ControlShape")]
    cycle_shapes = Graph().parse(data=CYCLE_SHAPES, format="turtle")
    data = Graph().parse(data=CYCLE_DATA, format="turtle")
    mine = ShapesPlan(cycle_shapes).run(NoCycles(load_store(data)), source=data)
    same(mine, validate(data, cycle_shapes))
    assert sorted(str(r.focus_node)[len(EX):] for r in mine.results) == ["a", "b", "c", "f", "selfish"]


@pytest.mark.parametrize("select", [
    "SELECT $this WHERE { $this ex:owns* $this }",  # zero steps: every node, not a cycle
    "SELECT $this WHERE { $this ex:owns+ $this . $this ex:name ?n }",  # more than the path
    "SELECT $this WHERE { $this (ex:owns|!ex:name)+ $this }",  # a negated step
    "SELECT $this WHERE { $this (ex:owns/ex:via+)+ $this }",  # a transitive step inside
])
def test_other_cycle_constraints_are_refused_where_paths_skip_them(select: str) -> None:
    text = CYCLE_SHAPES.replace("SELECT DISTINCT $this WHERE { $this (ex:owns|^ex:ownedBy|ex:via/ex:to)+ $this . }",
                                select)
    with pytest.raises(UnsupportedShapeError) as caught:
        ShapesPlan(Graph().parse(data=text, format="turtle")).run(NoCycles(load_store(Graph())))
    assert [p for p in caught.value.problems if "ex:CycleShape" in p and "cycle" in p and "$this PATH+ $this" in p]
    assert caught.value.exit_code == 3 and "--shapes" in caught.value.render()
    assert ShapesPlan(Graph().parse(data=text, format="turtle")).run(OxigraphRunner(load_store(Graph()))).conforms


class Retyping(OxigraphRunner):
    """Oxigraph without verbatim copies, as behind a SPARQL server (`kgtool serve`): "5"^^xsd:int comes
    back as "5"^^xsd:integer."""

    lexical = False
    portable = True
    retypes = True


def test_derived_integer_datatypes_are_checked_on_the_value_where_literals_are_retyped() -> None:
    shapes = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:S a sh:NodeShape ; sh:targetClass ex:A ;
            sh:property [ sh:path ex:n ; sh:datatype xsd:nonNegativeInteger ] ,
                        [ sh:path ex:b ; sh:datatype xsd:byte ] ,
                        [ sh:path ex:t ; sh:datatype xsd:dateTimeStamp ] .""", format="turtle")
    data = Graph().parse(data="""
        @prefix ex: <http://example.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:good a ex:A ; ex:n "05"^^xsd:nonNegativeInteger ; ex:b "-128"^^xsd:byte ;
            ex:t "2020-01-01T00:00:00Z"^^xsd:dateTimeStamp .
        ex:bad a ex:A ; ex:n "-1"^^xsd:integer , "x" ; ex:b "300"^^xsd:integer ;
            ex:t "2020-01-01T00:00:00"^^xsd:dateTime .
        ex:missed a ex:A ; ex:n "7"^^xsd:integer .""", format="turtle")
    plain = ox.Store()
    plain.bulk_load(data.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    ours = ShapesPlan(shapes).run(Retyping(plain))
    failing = sorted((str(r.focus_node)[len(EX):], str(r.result_path)[len(EX):], str(r.value)) for r in ours.results)
    assert failing == [("bad", "b", "300"), ("bad", "n", "-1"), ("bad", "n", "x"), ("bad", "t", "2020-01-01T00:00:00")]
    theirs = {(str(r.focus_node)[len(EX):], str(r.result_path)[len(EX):]) for r in validate(data, shapes).results}
    assert theirs - {f[:2] for f in failing} == {("missed", "n")}, "what such a server cannot see, and only that"


def test_every_predicates_literals_kept_verbatim_give_the_same_results(tmp_path: Path, plan: ShapesPlan) -> None:
    """What a persistent store keeps (kgtool.cache.fill_store): a verbatim copy of every rewritten literal."""
    path = tmp_path / "synth.nt"
    write_synth(path, 6_000, 3)
    for_plan = validate_sparql(path, plan)
    every = plan.validate(load_store(path, preserve=[EVERY_PREDICATE]))
    assert every.results == for_plan.results and every.results


def test_language_tags_keep_the_case_the_file_writes(tmp_path: Path) -> None:
    shapes = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:A ; sh:property [ sh:path ex:name ; sh:languageIn ( "en" ) ] .""",
                           format="turtle")
    data = tmp_path / "names.ttl"
    data.write_text('@prefix ex: <http://example.org/> .\n'
                    'ex:a a ex:A ; ex:name "Anna"@DE-at , "Ann"@en-GB , "Anne"@fr .\n', encoding="utf-8")
    ours = validate_sparql(data, shapes)
    theirs = validate(load_graph(data), shapes)
    assert sorted(r.value.n3() for r in ours.results if r.value is not None) == ['"Anna"@DE-at', '"Anne"@fr']
    assert [(r.value, r.message) for r in ours.results] == [(r.value, r.message) for r in theirs.results]


def test_a_server_that_fails_on_a_shapes_own_query_names_the_shape(built: BuildResult, plan: ShapesPlan) -> None:
    class Failing(OxigraphRunner):
        def select(self, text: str) -> Solutions:
            if "SUBSTR(?content" in text:
                raise ExternalComponentError("SPARQL endpoint http://127.0.0.1:1/sparql: HTTP 500 Internal Server "
                                             "Error: Virtuoso 37000 Error SQ156: Internal Optimized compiler error")
            return super().select(text)

    with pytest.raises(UnsupportedShapeError) as caught:
        plan.run(Failing(load_store(built.graph, preserve=plan.preserved)), source=built.graph)
    assert len(caught.value.problems) == 1 and "kgsh:EvidenceShape-exact" in caught.value.problems[0]
    assert "SQ156" in caught.value.problems[0]


def test_rows_from_a_server_become_oxigraph_terms() -> None:
    rows = Solutions.from_rdflib(["s", "o"], [(URIRef(f"{EX}a"), Literal("5", datatype=URIRef(f"{EX}t"))),
                                              (BNode("b1"), None), (URIRef(f"{EX}c"), Literal("x", lang="en"))])
    assert rows.variables == ("s", "o")
    assert rows.rows[0]["s"] == ox.NamedNode(f"{EX}a") and rows.rows[0]["o"] == ox.Literal(
        "5", datatype=ox.NamedNode(f"{EX}t"))
    assert rows.rows[1]["s"] == ox.BlankNode("b1") and rows.rows[1]["o"] is None
    assert rows.rows[2]["o"] == ox.Literal("x", language="en")
