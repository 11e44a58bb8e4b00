"""Releases: every artefact, checksums, a VoID + DCAT description, atomic and refusing to overwrite;
each artefact read by parsers kgtool did not write (rdflib, pyoxigraph, Raptor's rapper, owlready2)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, FOAF, VOID

from kgtool.build import BuildResult
from kgtool.config import Project
from kgtool.errors import BadInputError
from kgtool.export import Artefact, artefact_graph, export_bytes, named_graphs, owl2_dl_problems
from kgtool.namespaces import BASE, DCTERMS, KG, KGDOC, PROV, RDF, RDFS, XSD
from kgtool.rdfio import RdfFormat
from kgtool.release import (ARTEFACT_FILES, SPDX, list_releases, previous_release, release, verify_release)

from .conftest import ROOT, missing

EXPECTED_FILES = {"kgtool.ttl", "kgtool.nt", "kgtool.nq", "kgtool.jsonld", "kgtool.rdf", "kgtool-ontology.ttl",
                  "kgtool-ontology.rdf", "kgtool-data.ttl", "kgtool-data.nt", "void.ttl", "kgtool.context.jsonld",
                  "CHANGELOG.md", "SHA256SUMS"}
RAPPER_SYNTAX = {RdfFormat.TURTLE: "turtle", RdfFormat.NTRIPLES: "ntriples", RdfFormat.NQUADS: "nquads",
                 RdfFormat.RDFXML: "rdfxml"}
RDFLIB_FORMATS = {RdfFormat.TURTLE: "turtle", RdfFormat.NTRIPLES: "nt", RdfFormat.NQUADS: "nquads",
                  RdfFormat.JSONLD: "json-ld", RdfFormat.RDFXML: "xml"}


@pytest.fixture(scope="module")
def released(built: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = release(Project(ROOT), "1.0.0", dist=dist, built=built)
    assert result.folder == dist / "1.0.0"
    return result.folder


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_release_folder_holds_every_artefact(released: Path, built: BuildResult) -> None:
    assert {p.name for p in released.iterdir()} == EXPECTED_FILES
    assert "First release" in (released / "CHANGELOG.md").read_text(encoding="utf-8")
    assert (released / "kgtool.context.jsonld").read_bytes() == (ROOT / "context" / "kgtool.context.jsonld").read_bytes()
    assert verify_release(released) == []


def test_release_files_are_what_export_writes(released: Path, built: BuildResult) -> None:
    for name, artefact, rdf_format in ARTEFACT_FILES:
        if name in ("kgtool.ttl", "kgtool.nq", "kgtool-ontology.rdf", "kgtool-data.nt"):
            assert (released / name).read_bytes() == export_bytes(built, rdf_format, artefact), name


def test_sha256sums_is_what_sha256sum_checks(released: Path) -> None:
    if shutil.which("sha256sum") is None:
        missing("sha256sum", "Debian's coreutils")
    run = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=released, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": OK") == len(EXPECTED_FILES) - 1


def test_verify_release_finds_tampering(released: Path, tmp_path: Path) -> None:
    copy = tmp_path / "1.0.0"
    shutil.copytree(released, copy)
    (copy / "kgtool.ttl").write_bytes((copy / "kgtool.ttl").read_bytes().replace(b"Rosatom", b"Rosatum", 1))
    (copy / "kgtool.nq").unlink()
    (copy / "notes.txt").write_text("stray\n", encoding="utf-8")
    problems = verify_release(copy)
    assert "kgtool.ttl: checksum does not match SHA256SUMS" in problems
    assert "kgtool.nq: listed in SHA256SUMS but missing" in problems
    assert "notes.txt: not listed in SHA256SUMS" in problems
    assert any("void.ttl: the checksum of kgtool.ttl" in p for p in problems), problems
    (copy / "SHA256SUMS").unlink()
    assert verify_release(copy) == [f"SHA256SUMS is missing in {copy}"]


def test_existing_release_is_kept_unless_overwrite(released: Path, built: BuildResult, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(released, dist / "1.0.0")
    (dist / "1.0.0" / "stray.txt").write_text("left by hand\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="release 1.0.0 already exists") as caught:
        release(Project(ROOT), "1.0.0", dist=dist, built=built)
    assert caught.value.exit_code == 3
    assert (dist / "1.0.0" / "stray.txt").exists()
    result = release(Project(ROOT), "1.0.0", dist=dist, built=built, overwrite=True)
    assert not (dist / "1.0.0" / "stray.txt").exists()
    assert verify_release(result.folder) == []
    assert [p.name for p in dist.iterdir()] == ["1.0.0"], "no temporary folder left behind"
    assert result.previous is None


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0-rc.1", "../1.0.0", "1.0.0/x", ""])
def test_version_must_be_semver(built: BuildResult, tmp_path: Path, version: str) -> None:
    with pytest.raises(BadInputError, match="X.Y.Z"):
        release(Project(ROOT), version, dist=tmp_path, built=built)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_release_leaves_nothing(built: BuildResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kgtool.release as module

    real = os.fsync
    calls = []

    def failing(descriptor: int) -> None:
        calls.append(descriptor)
        if len(calls) == 5:  # some files written into the staging folder, then the disk fills
            raise OSError("disk full")
        real(descriptor)

    monkeypatch.setattr(module.os, "fsync", failing)
    with pytest.raises(OSError, match="disk full"):
        release(Project(ROOT), "1.0.0", dist=tmp_path, built=built)
    assert len(calls) == 5
    assert list(tmp_path.iterdir()) == [], "no partial release, no staging folder"


def test_previous_release_is_the_highest_version_below(tmp_path: Path) -> None:
    for name in ("0.9.0", "1.0.0", "1.2.0", "1.10.0", "2.0.0"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kgtool.nt").write_text("", encoding="utf-8")
    (tmp_path / "1.5.0").mkdir()  # no merged graph: not a release
    (tmp_path / "notes").mkdir()
    assert [f.name for _, f in list_releases(tmp_path)] == ["0.9.0", "1.0.0", "1.2.0", "1.10.0", "2.0.0"]
    assert previous_release(tmp_path, "1.10.0") == tmp_path / "1.2.0", "numeric, not lexical order"
    assert previous_release(tmp_path, "1.11.0") == tmp_path / "1.10.0"
    assert previous_release(tmp_path, "1.0.0") == tmp_path / "0.9.0"
    assert previous_release(tmp_path, "0.1.0") is None


# --- the dataset description ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def description(released: Path) -> Graph:
    graph = Graph()
    graph.parse(released / "void.ttl", format="turtle")  # relative IRIs resolve against the file
    return graph


def test_description_says_what_the_dataset_is(description: Graph, built: BuildResult) -> None:
    dataset = URIRef(BASE + "dataset/1.0.0")
    assert (dataset, RDF.type, VOID.Dataset) in description
    assert (dataset, RDF.type, DCAT.Dataset) in description
    assert "critical-minerals" in str(description.value(dataset, DCTERMS.title))
    assert description.value(dataset, DCTERMS.description) is not None
    assert description.value(dataset, URIRef(str(DCAT) + "version")) == Literal("1.0.0")
    assert description.value(dataset, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    publisher = description.value(dataset, DCTERMS.publisher)
    assert str(publisher).startswith(BASE) and (publisher, RDF.type, FOAF.Organization) in description
    latest = max(str(d) for d in built.graph.objects(None, DCTERMS.date))
    assert description.value(dataset, DCTERMS.created) == Literal(latest, datatype=XSD.date) == \
        Literal("2025-11-04", datatype=XSD.date), "the latest date a source states, not the clock"
    sources = {KGDOC[d] for d in built.sources.documents}
    assert set(description.objects(dataset, DCTERMS.source)) == sources
    assert set(description.objects(dataset, PROV.wasDerivedFrom)) == sources


def test_description_statistics_match_the_graph(description: Graph, built: BuildResult) -> None:
    graph = built.graph
    dataset = URIRef(BASE + "dataset/1.0.0")
    assert description.value(dataset, VOID.triples).toPython() == len(graph)
    classes = {description.value(p, VOID["class"]): description.value(p, VOID.entities).toPython()
               for p in description.objects(dataset, VOID.classPartition)}
    assert classes[KG.QuantitativeClaim] == len(set(graph.subjects(RDF.type, KG.QuantitativeClaim)))
    assert set(classes) == set(graph.objects(None, RDF.type))
    properties = {description.value(p, VOID.property): description.value(p, VOID.triples).toPython()
                  for p in description.objects(dataset, VOID.propertyPartition)}
    assert properties[RDFS.label] == len(list(graph.triples((None, RDFS.label, None))))
    assert sum(properties.values()) == len(graph)
    vocabularies = set(description.objects(dataset, VOID.vocabulary))
    assert {URIRef(str(KG)), URIRef(str(PROV)), URIRef("http://www.w3.org/ns/oa#")} <= vocabularies
    examples = set(description.objects(dataset, VOID.exampleResource))
    assert examples and all((e, None, None) in graph for e in examples)
    subsets = {description.value(s, VOID.triples).toPython() for s in description.objects(dataset, VOID.subset)}
    assert subsets == {len(artefact_graph(built, Artefact.ONTOLOGY)), len(artefact_graph(built, Artefact.DATA))}


def test_description_distributions_point_at_the_files_with_their_checksums(description: Graph,
                                                                           released: Path) -> None:
    dataset = URIRef(BASE + "dataset/1.0.0")
    distributions = set(description.objects(dataset, DCAT.distribution))
    assert len(distributions) == len(ARTEFACT_FILES)
    media_types = set()
    for distribution in distributions:
        url = str(description.value(distribution, DCAT.downloadURL))
        assert url.startswith(released.resolve().as_uri() + "/"), "relative to the release folder"
        path = released / url.rsplit("/", 1)[1]
        checksum = description.value(distribution, SPDX.checksum)
        assert description.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(description.value(checksum, SPDX.checksumValue)) == _sha256(path)
        assert description.value(distribution, DCAT.byteSize).toPython() == path.stat().st_size
        media_types.add(str(description.value(distribution, DCAT.mediaType)).split("media-types/")[1])
    assert media_types == {f.media_type for f in RdfFormat}
    assert b"w3id.org/kgtool/release/" not in (released / "void.ttl").read_bytes(), "no absolute folder IRI"


# --- parsers kgtool did not write -----------------------------------------------------------------

def _equivalent(a: Graph, b: Graph) -> bool:
    """Isomorphic: the same ground triples, and isomorphic blank-node parts (cheap for large graphs)."""
    def parts(graph: Graph) -> tuple[set, Graph]:
        ground, blank = set(), Graph()
        for triple in graph:
            if any(isinstance(term, BNode) for term in triple):
                blank.add(triple)
            else:
                ground.add(triple)
        return ground, blank

    ground_a, blank_a = parts(a)
    ground_b, blank_b = parts(b)
    return ground_a == ground_b and isomorphic(blank_a, blank_b)


def _from_oxigraph(term: object) -> object:
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return URIRef(term.value)
    if isinstance(term, pyoxigraph.BlankNode):
        return BNode(term.value)
    assert isinstance(term, pyoxigraph.Literal)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == str(XSD.string):
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def _graphs_of_quads(quads: list[tuple[object, object, object, object]]) -> dict[object, Graph]:
    graphs: dict[object, Graph] = {}
    for s, p, o, g in quads:
        graphs.setdefault(g, Graph()).add((s, p, o))  # type: ignore[arg-type]
    return graphs


def _expected(built: BuildResult, artefact: Artefact, rdf_format: RdfFormat) -> dict[object, Graph]:
    if rdf_format is RdfFormat.NQUADS:
        return dict(named_graphs(built, artefact))
    return {None: artefact_graph(built, artefact)}


def _assert_same(parsed: dict[object, Graph], expected: dict[object, Graph], parser: str) -> None:
    assert set(parsed) == set(expected), parser
    for name, graph in expected.items():
        assert len(parsed[name]) == len(graph), f"{parser}: triple count of {name}"
        assert _equivalent(parsed[name], graph), f"{parser}: not isomorphic ({name})"


@pytest.mark.parametrize(("name", "artefact", "rdf_format"), ARTEFACT_FILES, ids=[f[0] for f in ARTEFACT_FILES])
def test_every_artefact_reads_the_same_in_rdflib_pyoxigraph_and_rapper(
        released: Path, built: BuildResult, require_rapper: str,
        name: str, artefact: Artefact, rdf_format: RdfFormat) -> None:
    import pyoxigraph

    path = released / name
    expected = _expected(built, artefact, rdf_format)
    quads = rdf_format is RdfFormat.NQUADS

    if quads:
        dataset = Dataset()
        dataset.parse(path, format="nquads")
        by_rdflib: dict[object, Graph] = {g: dataset.graph(g) for g in expected}
        assert sum(1 for _ in dataset.quads((None, None, None, None))) == sum(len(g) for g in expected.values())
    else:
        by_rdflib = {None: Graph().parse(path, format=RDFLIB_FORMATS[rdf_format])}
    _assert_same(by_rdflib, expected, "rdflib")

    oxi_format = {RdfFormat.TURTLE: pyoxigraph.RdfFormat.TURTLE, RdfFormat.NTRIPLES: pyoxigraph.RdfFormat.N_TRIPLES,
                  RdfFormat.NQUADS: pyoxigraph.RdfFormat.N_QUADS, RdfFormat.JSONLD: pyoxigraph.RdfFormat.JSON_LD,
                  RdfFormat.RDFXML: pyoxigraph.RdfFormat.RDF_XML}[rdf_format]
    found = [(_from_oxigraph(q.subject), _from_oxigraph(q.predicate), _from_oxigraph(q.object),
              URIRef(q.graph_name.value) if quads else None)
             for q in pyoxigraph.parse(path=str(path), format=oxi_format, base_iri=path.resolve().as_uri())]
    _assert_same(_graphs_of_quads(found), expected, "pyoxigraph")  # type: ignore[arg-type]

    if rdf_format not in RAPPER_SYNTAX:
        return  # Raptor has no JSON-LD parser
    run = subprocess.run([require_rapper, "-q", "-i", RAPPER_SYNTAX[rdf_format], "-o", "nquads" if quads else "ntriples",
                          str(path)], capture_output=True, check=False)
    assert run.returncode == 0, run.stderr.decode()[:2000]
    if quads:
        dataset = Dataset()
        dataset.parse(data=run.stdout, format="nquads")
        by_rapper = {g: dataset.graph(g) for g in expected}
    else:
        by_rapper = {None: Graph().parse(data=run.stdout, format="nt")}
    assert run.stdout.count(b"\n") == sum(len(g) for g in expected.values()), "rapper's triple count"
    _assert_same(by_rapper, expected, "rapper")


def test_description_reads_the_same_everywhere(released: Path, description: Graph, require_rapper: str) -> None:
    import pyoxigraph

    path = released / "void.ttl"
    found = Graph()
    for q in pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.TURTLE, base_iri=path.resolve().as_uri()):
        found.add((_from_oxigraph(q.subject), _from_oxigraph(q.predicate), _from_oxigraph(q.object)))  # type: ignore[arg-type]
    assert _equivalent(found, description)
    run = subprocess.run([require_rapper, "-q", "-i", "turtle", "-o", "ntriples", str(path)], capture_output=True)
    assert run.returncode == 0
    assert _equivalent(Graph().parse(data=run.stdout, format="nt"), description)


def test_ontology_artefact_loads_in_owlready2_and_round_trips(released: Path, built: BuildResult,
                                                             tmp_path: Path) -> None:
    """owlready2 reads the RDF/XML ontology; what it writes back is the same graph, up to two owlready2
    habits: plain literals come back as xsd:string (the same literal in RDF 1.1) and IRIs ending in
    '/' (here only namespace IRIs such as dcterms:, the licence) come back without the slash."""
    import owlready2

    world = owlready2.World()
    ontology = world.get_ontology((released / "kgtool-ontology.rdf").resolve().as_uri()).load(format="rdfxml")
    expected = artefact_graph(built, Artefact.ONTOLOGY)
    assert owl2_dl_problems(expected) == []
    declared = {str(c) for c in expected.subjects(RDF.type, URIRef("http://www.w3.org/2002/07/owl#Class"))}
    assert {c.iri for c in ontology.classes()} >= {c for c in declared if c.startswith(BASE)}
    assert world["https://w3id.org/kgtool/ontology#locatedIn"] is not None
    out = tmp_path / "back.nt"
    ontology.save(str(out), format="ntriples")

    def normal(graph: Graph) -> Graph:
        result = Graph()
        for s, p, o in graph:
            if isinstance(o, Literal) and o.datatype == XSD.string:
                o = Literal(str(o))
            if isinstance(o, URIRef) and str(o).endswith("/"):
                o = URIRef(str(o).rstrip("/"))
            result.add((s, p, o))
        return result

    back = Graph().parse(out, format="nt")
    assert len(back) == len(expected)
    assert _equivalent(normal(back), normal(expected))


# --- byte stability across processes --------------------------------------------------------------

def test_releases_in_two_processes_are_byte_identical(released: Path, tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from kgtool.config import Project; from kgtool.release import release; "
            "release(Project(Path(sys.argv[1])), '1.0.0', dist=Path(sys.argv[2]))")
    runs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        runs.append(subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(tmp_path / seed)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr.decode()[-2000:]
    first, second = tmp_path / "1" / "1.0.0", tmp_path / "4242" / "1.0.0"
    assert {p.name for p in first.iterdir()} == EXPECTED_FILES
    for name in sorted(EXPECTED_FILES):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        assert (first / name).read_bytes() == (released / name).read_bytes(), f"{name}: differs from this process"

