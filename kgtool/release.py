"""Versioned releases: every artefact, a VoID + DCAT description, checksums and a changelog.

`release(project, "1.2.0")` writes `dist/1.2.0/`:

    kgtool.ttl kgtool.nt kgtool.nq kgtool.jsonld kgtool.rdf   the merged graph, five serialisations
    kgtool-ontology.ttl kgtool-ontology.rdf                    the ontology alone (OWL 2 DL)
    kgtool-data.ttl kgtool-data.nt                             the data alone
    void.ttl                 the dataset description (VoID + DCAT), download URLs relative to the folder
    kgtool.context.jsonld    the JSON-LD context (also embedded in kgtool.jsonld)
    CHANGELOG.md             what changed since the previous release (the highest version below this one)
    SHA256SUMS               checksums of every other file, for `sha256sum -c SHA256SUMS`

Every byte depends only on the inputs and the version: no clock, no random labels. The folder is
assembled under a temporary name in `dist/` and renamed into place, so a failed release leaves
nothing behind, and an existing release is replaced only when asked to.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, FOAF, VOID

from .build import BuildResult, build
from .config import Project
from .diff import RELEASE_GRAPH, GraphDiff, diff_graphs, load_graph_any
from .errors import BadInputError
from .export import Artefact, export_bytes, owl2_dl_problems, split
from .namespaces import BASE, DCTERMS, KG, KGDOC, OWL, PREFIXES, PROV, RDF, RDFS, XSD
from .rdfio import RdfFormat, canonical_copy, context_document, exchange_paths, parse_into, serialise
from .store import new_graph

SPDX = Namespace("http://spdx.org/rdf/terms#")
DCAT_VERSION = URIRef(str(DCAT) + "version")  # DCAT 3; rdflib's DCAT namespace is DCAT 2
DESCRIPTION_PREFIXES = {"dcat": str(DCAT), "foaf": str(FOAF), "spdx": str(SPDX), "void": str(VOID)}

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
PUBLISHER = URIRef(BASE + "project")
DATASET = URIRef(BASE + "dataset")
TITLE = "kgtool critical-minerals knowledge graph"
DESCRIPTION_TEXT = ("Russia's plans for rare-earth metals and the geopolitics around them, as five news articles "
                    "report them: an OWL 2 ontology, entities, and every claim with its source document and a "
                    "verbatim quote; where sources disagree, all are kept and marked as conflicting.")
KEYWORDS = ("rare-earth metals", "critical minerals", "Russia", "knowledge graph", "provenance")
FORMAT_FEATURES = {RdfFormat.TURTLE: "Turtle", RdfFormat.NTRIPLES: "N-Triples", RdfFormat.NQUADS: "N-Quads",
                   RdfFormat.JSONLD: "JSON-LD", RdfFormat.RDFXML: "RDF_XML"}

DESCRIPTION = "void.ttl"
CONTEXT = "kgtool.context.jsonld"
CHANGELOG = "CHANGELOG.md"
SUMS = "SHA256SUMS"
ARTEFACT_FILES: tuple[tuple[str, Artefact, RdfFormat], ...] = (
    (RELEASE_GRAPH, Artefact.MERGED, RdfFormat.NTRIPLES),
    ("kgtool.ttl", Artefact.MERGED, RdfFormat.TURTLE),
    ("kgtool.nq", Artefact.MERGED, RdfFormat.NQUADS),
    ("kgtool.jsonld", Artefact.MERGED, RdfFormat.JSONLD),
    ("kgtool.rdf", Artefact.MERGED, RdfFormat.RDFXML),
    ("kgtool-ontology.ttl", Artefact.ONTOLOGY, RdfFormat.TURTLE),
    ("kgtool-ontology.rdf", Artefact.ONTOLOGY, RdfFormat.RDFXML),
    ("kgtool-data.ttl", Artefact.DATA, RdfFormat.TURTLE),
    ("kgtool-data.nt", Artefact.DATA, RdfFormat.NTRIPLES),
)
_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release; `artefact` and `rdf_format` are set for the RDF artefacts."""

    name: str
    sha256: str
    size: int
    artefact: Artefact | None = None
    rdf_format: RdfFormat | None = None


@dataclass(frozen=True)
class ReleaseResult:
    """What `release` wrote: the folder, its files, and the difference from the previous release."""

    version: str
    folder: Path
    files: tuple[ReleaseFile, ...]
    triples: int
    previous: str | None
    diff: GraphDiff | None


def parse_version(version: str) -> tuple[int, int, int]:
    """X.Y.Z (semantic versioning, no leading zeros, no pre-release) as numbers; else BadInputError."""
    match = SEMVER.match(version)
    if match is None:
        raise BadInputError(f"release version must be X.Y.Z (like 1.0.0), not {version!r}",
                            hint="use semantic versioning: major.minor.patch, digits only")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def list_releases(dist: Path) -> list[tuple[tuple[int, int, int], Path]]:
    """The release folders in `dist` (named X.Y.Z and holding a merged graph), lowest version first."""
    if not dist.is_dir():
        return []
    found = []
    for folder in dist.iterdir():
        if folder.is_dir() and SEMVER.match(folder.name) and (folder / RELEASE_GRAPH).is_file():
            found.append((parse_version(folder.name), folder))
    return sorted(found)


def previous_release(dist: Path, version: str) -> Path | None:
    """The release with the highest version below `version`, or None for a first release."""
    key = parse_version(version)
    below = [folder for found, folder in list_releases(dist) if found < key]
    return below[-1] if below else None


def locate(reference: str, dist: Path) -> Path:
    """A path as given when it exists, else the release folder `dist/<reference>` for a version."""
    path = Path(reference)
    if path.exists():
        return path
    if SEMVER.match(reference) and (dist / reference).is_dir():
        return dist / reference
    raise BadInputError(f"no file, folder or release {reference!r}", path=dist,
                        hint="give an RDF file, a release folder, or the version of a release in dist/")


def release_folder_iri(version: str) -> str:
    """Where a release's files are published; written relative in void.ttl, so they resolve anywhere."""
    return f"{BASE}release/{version}/"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def release(project: Project, version: str, *, dist: Path | None = None, overwrite: bool = False,
            built: BuildResult | None = None) -> ReleaseResult:
    """Build (or take `built`) and write the release folder `dist/<version>/` atomically.

    BadInputError when the version is not X.Y.Z, when the release exists and `overwrite` is False,
    or when the ontology fails the OWL 2 DL structural check."""
    parse_version(version)
    dist = dist if dist is not None else project.dist
    target = dist / version
    if target.exists() and not overwrite:
        raise BadInputError(f"release {version} already exists", path=target,
                            hint="choose a new version, or replace it with --overwrite")
    result = built if built is not None else build(project)
    ontology, data = split(result)
    problems = owl2_dl_problems(ontology)
    if problems:
        raise BadInputError(f"the ontology is not OWL 2 DL ({len(problems)} problems):\n  " + "\n  ".join(problems),
                            path=project.ontology, hint="fix the ontology and release again")
    contents: dict[str, bytes] = {}
    files: list[ReleaseFile] = []
    canonical = {Artefact.MERGED: canonical_copy(result.graph), Artefact.ONTOLOGY: canonical_copy(ontology),
                 Artefact.DATA: canonical_copy(data)}
    for name, artefact, rdf_format in ARTEFACT_FILES:
        if rdf_format is RdfFormat.NQUADS:
            contents[name] = export_bytes(result, rdf_format, artefact)
        else:  # the same bytes as export_bytes, canonicalising each graph once rather than once per format
            contents[name] = serialise(canonical[artefact], rdf_format, already_canonical=True)
        files.append(ReleaseFile(name, _sha256(contents[name]), len(contents[name]), artefact, rdf_format))
    contents[CONTEXT] = context_document()
    previous = previous_release(dist, version)
    difference = diff_graphs(load_graph_any(previous), result.graph) if previous is not None else None
    contents[CHANGELOG] = changelog(version, result, ontology, data, previous, difference).encode("utf-8")
    description = dataset_description(result, ontology, data, version, files)
    contents[DESCRIPTION] = serialise(description, RdfFormat.TURTLE, prefixes=DESCRIPTION_PREFIXES,
                                      relative_to=release_folder_iri(version))
    for name in (CONTEXT, CHANGELOG, DESCRIPTION):
        files.append(ReleaseFile(name, _sha256(contents[name]), len(contents[name])))
    contents[SUMS] = "".join(f"{_sha256(contents[name])}  {name}\n" for name in sorted(contents)).encode("utf-8")
    files.append(ReleaseFile(SUMS, _sha256(contents[SUMS]), len(contents[SUMS])))
    _write_folder(target, contents, overwrite=overwrite)
    return ReleaseResult(version, target, tuple(sorted(files, key=lambda f: f.name)), len(result.graph),
                         previous.name if previous is not None else None, difference)


def _write_folder(target: Path, contents: dict[str, bytes], *, overwrite: bool) -> None:
    """Write the files into a temporary folder beside `target`, then put it in place in one step: a
    process killed at any moment leaves the previous release or the new one, never a mix or neither."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        for name, data in sorted(contents.items()):
            with open(staging / name, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        staging.chmod(0o755)
        if target.exists() and not overwrite:
            raise BadInputError(f"release {target.name} already exists", path=target,
                                hint="choose a new version, or replace it with --overwrite")
        if target.exists() and overwrite:
            exchange_paths(staging, target)  # staging now holds the previous release
        else:
            try:
                os.rename(staging, target)
            except OSError as error:  # another process released this version meanwhile
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise BadInputError(f"release {target.name} already exists", path=target,
                                    hint="choose a new version, or replace it with --overwrite") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify_release(folder: Path) -> list[str]:
    """Problems with a release folder, [] when none: every file listed in SHA256SUMS with the right
    checksum, nothing unlisted, and void.ttl's distributions agreeing with the files (checksum, size)."""
    sums = folder / SUMS
    if not sums.is_file():
        return [f"{SUMS} is missing in {folder}"]
    problems: list[str] = []
    listed: dict[str, str] = {}
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        match = _SUM_LINE.fullmatch(line)
        if match is None or "/" in match.group(2) or match.group(2) in (".", ".."):
            problems.append(f"{SUMS}:{number}: not a line of the form '<sha256>  <file name>'")
            continue
        listed[match.group(2)] = match.group(1)
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {SUMS} but missing")
        elif _sha256(path.read_bytes()) != digest:
            problems.append(f"{name}: checksum does not match {SUMS}")
    for path in sorted(folder.iterdir()):
        if path.name != SUMS and path.name not in listed:
            problems.append(f"{path.name}: not listed in {SUMS}")
    if (folder / DESCRIPTION).is_file():
        problems += _check_description(folder)
    return problems


def _check_description(folder: Path) -> list[str]:
    graph = new_graph()
    try:
        parse_into(graph, folder / DESCRIPTION)
    except BadInputError as error:
        return [f"{DESCRIPTION}: {error.message}"]
    problems = []
    for distribution in sorted(graph.subjects(RDF.type, DCAT.Distribution), key=str):
        url = graph.value(distribution, DCAT.downloadURL)
        checksum = graph.value(graph.value(distribution, SPDX.checksum), SPDX.checksumValue)
        size = graph.value(distribution, DCAT.byteSize)
        if url is None or not str(url).startswith(folder.resolve().as_uri() + "/"):
            problems.append(f"{DESCRIPTION}: {distribution} has no download URL inside the release folder")
            continue
        path = folder / str(url)[len(folder.resolve().as_uri()) + 1:]
        if not path.is_file():
            problems.append(f"{DESCRIPTION}: {path.name} is described but missing")
            continue
        data = path.read_bytes()
        if checksum is None or str(checksum) != _sha256(data):
            problems.append(f"{DESCRIPTION}: the checksum of {path.name} does not match the file")
        if not isinstance(size, Literal) or size.toPython() != len(data):
            problems.append(f"{DESCRIPTION}: the byte size of {path.name} does not match the file")
    return problems


# --- the changelog --------------------------------------------------------------------------------

def changelog(version: str, result: BuildResult, ontology: Graph, data: Graph, previous: Path | None,
              difference: GraphDiff | None) -> str:
    """CHANGELOG.md: this release against the previous one, then the previous release's own entries."""
    lines = ["# Changelog", "", f"## {version}", ""]
    documents = len(result.sources.documents)
    if previous is None or difference is None:
        lines.append(f"First release: {len(result.graph)} triples ({len(ontology)} in the ontology, {len(data)} "
                     f"data) from {documents} source documents.")
    elif difference.equal:
        lines.append(f"No change to the graph since {previous.name} ({len(result.graph)} triples).")
    else:
        lines += [f"Compared with {previous.name}: {difference.summary()}.", "", "```text",
                  difference.text().split("\n", 1)[1].strip("\n"), "```"]
    text = "\n".join(lines) + "\n"
    if previous is not None and (previous / CHANGELOG).is_file():
        earlier = (previous / CHANGELOG).read_text(encoding="utf-8")
        earlier = earlier.split("\n", 1)[1].lstrip("\n") if earlier.startswith("# Changelog") else earlier
        text += "\n" + earlier
    return text


# --- the dataset description (VoID + DCAT) --------------------------------------------------------

def _namespace(iri: str) -> str:
    """The namespace of an IRI: the longest project prefix it starts with, else up to its last # or /."""
    known = [namespace for namespace in PREFIXES.values() if iri.startswith(namespace)]
    if known:
        return max(known, key=len)
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[:cut + 1] if cut > 0 else iri


def _token(iri: URIRef) -> str:
    """A readable, stable path segment for a term: `kg/QuantitativeClaim`, else a hash of the IRI."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if str(iri).startswith(namespace) and len(str(iri)) > len(namespace):
            return f"{prefix}/{quote(str(iri)[len(namespace):], safe='-_.~')}"
    return "iri/" + hashlib.sha256(str(iri).encode("utf-8")).hexdigest()[:16]


def _created(graph: Graph) -> Literal | None:
    """The latest date a source document states: a date from the data, never the clock."""
    dates = [value for document in graph.subjects(RDF.type, KG.SourceDocument)
             for value in graph.objects(document, DCTERMS.date)
             if isinstance(value, Literal) and value.datatype == XSD.date]
    return max(dates, key=str) if dates else None


def _example_resources(graph: Graph) -> list[URIRef]:
    """The three entities most claims are about, the document with most claims, one conflicting claim."""
    subjects = Counter(o for o in graph.objects(None, KG.claimSubject) if isinstance(o, URIRef)
                       and not str(o).startswith(str(KGDOC)))
    documents = Counter(o for o in graph.objects(None, PROV.wasDerivedFrom) if isinstance(o, URIRef))
    chosen = [s for s, _ in sorted(subjects.items(), key=lambda item: (-item[1], str(item[0])))[:3]]
    chosen += [d for d, _ in sorted(documents.items(), key=lambda item: (-item[1], str(item[0])))[:1]]
    conflicting = sorted(s for s in graph.subjects(KG.conflictsWith, None) if isinstance(s, URIRef))
    return chosen + conflicting[:1]


def _statistics(description: Graph, node: URIRef, graph: Graph) -> None:
    description.add((node, VOID.triples, Literal(len(graph), datatype=XSD.integer)))
    subjects = {s for s in graph.subjects() if isinstance(s, URIRef)}
    description.add((node, VOID.entities, Literal(sum(1 for s in subjects if str(s).startswith(BASE)),
                                                  datatype=XSD.integer)))
    description.add((node, VOID.distinctSubjects, Literal(len(set(graph.subjects())), datatype=XSD.integer)))
    description.add((node, VOID.distinctObjects, Literal(len(set(graph.objects())), datatype=XSD.integer)))
    description.add((node, VOID.properties, Literal(len(set(graph.predicates())), datatype=XSD.integer)))
    description.add((node, VOID.classes, Literal(len(set(graph.objects(None, RDF.type))), datatype=XSD.integer)))


def dataset_description(result: BuildResult, ontology: Graph, data: Graph, version: str,
                        files: list[ReleaseFile]) -> Graph:
    """VoID + DCAT description of release `version`: metadata, statistics, partitions and distributions."""
    graph = result.graph
    description = new_graph()
    for prefix, namespace in DESCRIPTION_PREFIXES.items():
        description.bind(prefix, namespace, override=True, replace=True)
    add = description.add
    folder = release_folder_iri(version)
    dataset = URIRef(f"{DATASET}/{version}")

    document = URIRef(folder + DESCRIPTION)
    add((document, RDF.type, VOID.DatasetDescription))
    add((document, DCTERMS.title, Literal(f"Description of the {TITLE}, release {version}", lang="en")))
    add((document, FOAF.primaryTopic, dataset))

    add((dataset, RDF.type, VOID.Dataset))
    add((dataset, RDF.type, DCAT.Dataset))
    add((dataset, DCTERMS.title, Literal(TITLE, lang="en")))
    add((dataset, DCTERMS.description, Literal(DESCRIPTION_TEXT, lang="en")))
    add((dataset, RDFS.comment, Literal("The creation date is the latest date a source document states, not the "
                                        "time the release was made; no date is known for the others.", lang="en")))
    add((dataset, DCTERMS.isVersionOf, DATASET))
    add((dataset, DCAT_VERSION, Literal(version)))
    add((dataset, OWL.versionInfo, Literal(version)))
    add((dataset, DCTERMS.license, LICENSE))
    add((dataset, DCTERMS.publisher, PUBLISHER))
    add((dataset, DCTERMS.language, URIRef("http://id.loc.gov/vocabulary/iso639-1/en")))
    created = _created(graph)
    if created is not None:
        add((dataset, DCTERMS.created, created))
    for keyword in KEYWORDS:
        add((dataset, DCAT.keyword, Literal(keyword, lang="en")))
    add((PUBLISHER, RDF.type, FOAF.Organization))
    add((PUBLISHER, RDF.type, PROV.Agent))
    add((PUBLISHER, FOAF.name, Literal("the kgtool project", lang="en")))
    add((PUBLISHER, RDFS.label, Literal("the kgtool project", lang="en")))
    add((LICENSE, RDFS.label, Literal("Creative Commons Attribution 4.0 International (CC BY 4.0)", lang="en")))

    for doc_id in sorted(result.sources.documents):
        source = KGDOC[doc_id]
        add((dataset, DCTERMS.source, source))
        add((dataset, PROV.wasDerivedFrom, source))
        for label in graph.objects(source, RDFS.label):
            add((source, RDFS.label, label))

    add((dataset, VOID.uriSpace, Literal(BASE)))
    _statistics(description, dataset, graph)
    vocabularies = {_namespace(str(p)) for p in graph.predicates()} | \
        {_namespace(str(c)) for c in graph.objects(None, RDF.type) if isinstance(c, URIRef)}
    for vocabulary in sorted(vocabularies):
        add((dataset, VOID.vocabulary, URIRef(vocabulary)))
    for example in _example_resources(graph):
        add((dataset, VOID.exampleResource, example))

    classes = Counter(c for c in graph.objects(None, RDF.type) if isinstance(c, URIRef))
    for cls in classes:
        partition = URIRef(f"{dataset}/partition/class/{_token(cls)}")
        add((dataset, VOID.classPartition, partition))
        add((partition, VOID["class"], cls))
        add((partition, VOID.entities, Literal(len(set(graph.subjects(RDF.type, cls))), datatype=XSD.integer)))
    properties = Counter(p for _, p, _ in graph)
    for prop, count in properties.items():
        partition = URIRef(f"{dataset}/partition/property/{_token(prop)}")  # type: ignore[arg-type]
        add((dataset, VOID.propertyPartition, partition))
        add((partition, VOID.property, prop))
        add((partition, VOID.triples, Literal(count, datatype=XSD.integer)))

    subsets = {Artefact.ONTOLOGY: (ontology, "the ontology alone (OWL 2 DL): classes, properties and code lists"),
               Artefact.DATA: (data, "the data alone: entities, documents, claims, evidence and derived triples")}
    for artefact, (part, text) in subsets.items():
        subset = URIRef(f"{dataset}/{artefact.value}")
        add((dataset, VOID.subset, subset))
        add((subset, RDF.type, VOID.Dataset))
        add((subset, RDF.type, DCAT.Dataset))
        add((subset, DCTERMS.title, Literal(f"{TITLE}: {text}", lang="en")))
        add((subset, DCTERMS.license, LICENSE))
        _statistics(description, subset, part)

    for file in files:
        if file.artefact is None or file.rdf_format is None:
            continue
        distribution = URIRef(f"{dataset}/distribution/{file.name}")
        checksum = URIRef(f"{distribution}/sha256")
        url = URIRef(folder + file.name)
        owners = [dataset] if file.artefact is Artefact.MERGED else [dataset, URIRef(f"{dataset}/{file.artefact.value}")]
        for owner in owners:
            add((owner, DCAT.distribution, distribution))
        if file.artefact is Artefact.MERGED:
            add((dataset, VOID.dataDump, url))
            add((dataset, VOID.feature, URIRef("http://www.w3.org/ns/formats/" + FORMAT_FEATURES[file.rdf_format])))
        add((distribution, RDF.type, DCAT.Distribution))
        add((distribution, DCTERMS.title, Literal(f"{file.artefact.value} graph, {file.rdf_format.label}", lang="en")))
        add((distribution, DCAT.mediaType,
             URIRef("https://www.iana.org/assignments/media-types/" + file.rdf_format.media_type)))
        add((distribution, DCAT.downloadURL, url))
        add((distribution, DCAT.accessURL, url))
        add((distribution, DCAT.byteSize, Literal(file.size, datatype=XSD.nonNegativeInteger)))
        add((distribution, DCTERMS.license, LICENSE))
        add((distribution, SPDX.checksum, checksum))
        add((checksum, RDF.type, SPDX.Checksum))
        add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        add((checksum, SPDX.checksumValue, Literal(file.sha256, datatype=XSD.hexBinary)))
    return description
