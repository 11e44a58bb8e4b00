"""The `kgtool` command line: parse options, call one library function, print. Nothing else.

Exit codes, the same for every command:
  0 success   1 a finding (inconsistency, missing coverage, query check)   2 usage error
  3 bad input (malformed or missing file, quote not found, unknown name)
  4 an external component failed (Java, reasoner)   70 internal bug
"""
from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import KgtoolError

EXIT_CODES = """\b
Exit codes: 0 success, 1 a finding, 2 usage error, 3 bad input,
4 an external component failed, 70 internal bug."""
F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn kgtool's errors into one message and the documented exit code; bugs into code 70."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KgtoolError as error:
            click.echo(f"error: {error.render()}", err=True)
            sys.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception:
            click.echo(traceback.format_exc(), err=True)
            click.echo("internal error: this is a bug in kgtool; please report it with the text above.", err=True)
            sys.exit(70)

    return wrapper  # type: ignore[return-value]


def _parameters(items: tuple[str, ...]) -> dict[str, str]:
    """--param NAME=VALUE options as a mapping (a usage error when one has no `=`)."""
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--param takes NAME=VALUE, got {item!r}")
        given[key] = value
    return given


def _project() -> Any:
    from .config import find_project

    return find_project()


@click.group(epilog=EXIT_CODES)
@click.version_option(package_name="kgtool")
def main() -> None:
    """Build, check, query and export the critical-minerals knowledge graph.

    \b
    Example:
      kgtool build && kgtool reason && kgtool query --list
    """


@main.command(epilog=EXIT_CODES)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the Turtle (default: dist/kgtool.ttl).")
@click.option("--store", "store_path", type=click.Path(file_okay=False, path_type=Path),
              help="Also put the graph in a persistent Oxigraph store in this folder (see kgtool store).")
@reports_errors
def build(output: Path | None, store_path: Path | None) -> None:
    """Compile corpus, ontology and curated facts into one graph, as Turtle.

    Every quote is checked against its source document; the build stops, naming the
    file, line and document, when one is not found exactly. The graph is also cached in
    .cache/store/, where later commands read it without building it again.

    \b
    Example:
      kgtool build --output dist/kgtool.ttl
      kgtool build --store graph.store && kgtool query reserve-figures --store graph.store
    """
    from .build import build as build_graph
    from .cache import built_store, fill_store
    from .export import write_graph
    from .namespaces import KG, RDF

    project = _project()
    result = build_graph(project)
    target = output or project.built_graph
    write_graph(result.graph, target)
    built_store(project, graph=result.graph)
    if store_path is not None:
        fill_store(store_path, project=project, graph=result.graph)
    claims = sum(1 for _ in result.graph.subjects(RDF.type, KG.QuantitativeClaim)) + \
        sum(1 for _ in result.graph.subjects(RDF.type, KG.RelationClaim))
    conflicts = sum(1 for _ in result.graph.triples((None, KG.conflictsWith, None))) // 2
    click.echo(f"built {len(result.graph)} triples: {len(result.sources.documents)} documents, "
               f"{claims} claims, {conflicts} conflicting pairs -> {target}")


@main.command(epilog=EXIT_CODES)
@click.option("--format", "-f", "rdf_format", default="turtle", show_default=True,
              type=click.Choice(["turtle", "ntriples", "nquads", "jsonld", "rdfxml"]), help="Serialisation.")
@click.option("--artefact", "-a", default="merged", show_default=True, type=click.Choice(["merged", "ontology", "data"]),
              help="The whole graph, the ontology alone, or the data alone.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@click.option("--store", "store_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Write what this persistent store holds (kgtool store), serialised by Oxigraph, instead of "
                   "building the graph. Not with --artefact or N-Quads.")
@reports_errors
def export(rdf_format: str, artefact: str, output: Path | None, store_path: Path | None) -> None:
    """Build the graph and write it in a serialisation other systems ingest (byte-stable).

    N-Quads put each source document's claims and evidence in a named graph of its own
    (kgdoc:NNN), the ontology in <https://w3id.org/kgtool/ontology>, the rest in
    <https://w3id.org/kgtool/graph/shared>.

    \b
    Example:
      kgtool export --format nquads --output dist/kgtool.nq
      kgtool export --artefact ontology --format rdfxml --output dist/kgtool-ontology.rdf
    """
    if store_path is not None:
        from .cache import open_store
        from .rdfio import write_atomic

        if artefact != "merged" or rdf_format == "nquads":
            raise click.UsageError("--store writes the whole store as ntriples, turtle, jsonld or rdfxml")
        data = open_store(store_path).serialise(rdf_format)
        if output is None:
            sys.stdout.buffer.write(data)
        else:
            write_atomic(output, data)
            click.echo(f"wrote {len(data)} bytes of {rdf_format} -> {output}", err=True)
        return
    from .build import build as build_graph
    from .export import Artefact, export_bytes, write_export
    from .rdfio import RdfFormat

    result = build_graph(_project())
    fmt, part = RdfFormat(rdf_format), Artefact(artefact)
    if output is None:
        sys.stdout.buffer.write(export_bytes(result, fmt, part))
        return
    size = write_export(result, output, fmt, part)
    click.echo(f"wrote {size} bytes of {rdf_format} ({artefact}) -> {output}", err=True)


@main.command(epilog=EXIT_CODES)
@click.option("--version", "version", required=True, metavar="X.Y.Z", help="The release's semantic version.")
@click.option("--overwrite", is_flag=True, help="Replace an existing release of that version.")
@reports_errors
def release(version: str, overwrite: bool) -> None:
    """Write dist/X.Y.Z/ with every artefact, a VoID + DCAT description, checksums and a changelog.

    The changelog is the semantic diff against the previous release in dist/. An existing
    release is never overwritten without --overwrite.

    \b
    Example:
      kgtool release --version 1.0.0
    """
    from .release import release as make_release

    result = make_release(_project(), version, overwrite=overwrite)
    click.echo(f"released {result.version}: {result.triples} triples, {len(result.files)} files -> {result.folder}")
    click.echo(result.diff.summary() if result.diff is not None else "first release")


@main.command(epilog=EXIT_CODES)
@click.argument("old")
@click.argument("new")
@click.option("--format", "-f", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@reports_errors
def diff(old: str, new: str, out_format: str) -> None:
    """Compare two graphs semantically (blank-node-insensitive): added, removed, changed values.

    OLD and NEW are RDF files, release folders, or release versions in dist/. Exits 0 when
    the graphs are equal, 1 when they differ.

    \b
    Example:
      kgtool diff 1.0.0 1.1.0
      kgtool diff old.ttl dist/kgtool.ttl --format json
    """
    from .release import locate
    from .diff import diff_paths

    dist = _project().dist
    result = diff_paths(locate(old, dist), locate(new, dist))
    click.echo(result.json() if out_format == "json" else result.text(), nl=False)
    if not result.equal:
        sys.exit(1)


@main.command(epilog=EXIT_CODES)
@click.option("--reasoner", type=click.Choice(["hermit", "pellet"]), default="hermit", show_default=True)
@click.option("--inferred", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the inferred types and class hierarchy here as Turtle.")
@reports_errors
def reason(reasoner: str, inferred: Path | None) -> None:
    """Check with an OWL reasoner that ontology and graph are consistent (needs Java).

    Exits 1 naming the clashing individuals, or the unsatisfiable classes, when not.

    \b
    Example:
      kgtool reason --inferred dist/inferred.ttl
    """
    from .build import build as build_graph
    from .export import write_graph
    from .reason import Reasoner
    from .reason import reason as run_reasoner

    graph = build_graph(_project()).graph
    report = run_reasoner(graph, reasoner=Reasoner(reasoner))
    name = graph.namespace_manager.normalizeUri
    click.echo(f"{reasoner}: {len(graph)} triples ({report.omitted_literals} literals of non-OWL 2 datatypes "
               "such as xsd:date left out for the reasoner)")
    if report.ignored_imports:
        click.echo("note: owl:imports not followed (kgtool fetches nothing): "
                   + ", ".join(f"<{iri}>" for iri in report.ignored_imports), err=True)
    if not report.consistent:
        click.echo("INCONSISTENT", err=True)
        for clash in report.clashes:
            click.echo(f"  {name(clash.individual)} is both {name(clash.first)} ({clash.reasons[0]}) and "
                       f"{name(clash.second)} ({clash.reasons[1]}), which are disjoint", err=True)
        if not report.clashes:
            click.echo("  no simple type clash found; retract recent changes to find the cause", err=True)
        sys.exit(1)
    if report.unsatisfiable:
        click.echo("unsatisfiable classes: " + ", ".join(name(c) for c in report.unsatisfiable), err=True)
        sys.exit(1)
    click.echo("consistent; no unsatisfiable classes")
    if inferred is not None:
        write_graph(report.inferred, inferred)
        click.echo(f"wrote {len(report.inferred)} inferred triples -> {inferred}")


@main.command(epilog=EXIT_CODES)
@click.option("--format", "-f", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List every number and mention, not only what is missing.")
@reports_errors
def coverage(out_format: str, show_all: bool) -> None:
    """List every number and known-entity mention in the cleaned corpus and whether the graph accounts for it.

    Exits 1 when a number is neither captured by a claim nor waived.

    \b
    Example:
      kgtool coverage --all
    """
    from .build import build as build_graph
    from .coverage import coverage as compute
    from .render import coverage_json, coverage_text

    report = compute(build_graph(_project()))
    click.echo(coverage_json(report) if out_format == "json" else coverage_text(report, show_all=show_all))
    if not report.complete:
        sys.exit(1)


QUERY_EXIT_CODES = """\b
Exit codes: 0 success, 2 usage error, 3 bad input (unknown query or parameter,
a label naming no entity or several, invalid SPARQL), 4 an external component
failed: the server (unreachable, an HTTP error, malformed or partial results)
or the time limit (--timeout: the query was stopped), 70 internal bug."""


@main.command(epilog=QUERY_EXIT_CODES)
@click.argument("name", required=False)
@click.option("--list", "list_queries", is_flag=True, help="List the saved queries.")
@click.option("--describe", "--help-query", "describe", is_flag=True,
              help="Explain the saved query NAME: what it answers, its parameters (type, default), examples.")
@click.option("--execute", "-e", "execute", metavar="SPARQL",
              help="Run this SELECT, ASK, CONSTRUCT or DESCRIBE query instead of a saved one.")
@click.option("--file", "query_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Run the query in this file (a '# param:' header declares parameters).")
@click.option("--param", "-p", multiple=True, metavar="NAME=VALUE",
              help="Bind a parameter: an IRI (kgr:russia, <https://...>, or an entity's label), a string, "
                   "a whole number or a date, as the query declares; bound as an RDF term, never spliced "
                   "into the text. Repeatable.")
@click.option("--format", "-f", "out_format", type=click.Choice(["table", "csv", "tsv", "json", "xml", "markdown",
                                                                 "turtle", "jsonld"]),
              help="SELECT and ASK: table (default, labels beside IRIs), csv, tsv (SPARQL 1.1 CSV/TSV), json, xml "
                   "(SPARQL 1.1 results) or markdown. CONSTRUCT and DESCRIBE: turtle (default) or jsonld.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the answer here (atomically) instead of to standard output.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop the query after this long and exit 4. Default: 300 s locally, 60 s for --endpoint.")
@click.option("--endpoint", metavar="URL",
              help="Run on this SPARQL endpoint instead of the built graph. Credentials: KGTOOL_ENDPOINT_USER "
                   "and KGTOOL_ENDPOINT_PASSWORD, or ~/.netrc (HTTP basic; never printed).")
@click.option("--method", type=click.Choice(["post", "get"]), default="post", show_default=True,
              help="With --endpoint: how the query is sent.")
@click.option("--graph", "graph_iri", metavar="IRI",
              help="With --endpoint: query this named graph as the default graph (default-graph-uri).")
@click.option("--store", "store_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Run on this persistent Oxigraph store (kgtool store, kgtool build --store) instead of the built graph.")
@click.option("--allow-service", is_flag=True,
              help="Let a local query's SERVICE clauses call the SPARQL services they name (refused by default).")
@reports_errors
def query(name: str | None, list_queries: bool, describe: bool, execute: str | None, query_file: Path | None,
          param: tuple[str, ...], out_format: str | None, output: Path | None, timeout: float | None,
          endpoint: str | None, method: str, graph_iri: str | None, store_path: Path | None,
          allow_service: bool) -> None:
    """Run a saved query from queries/, or your own SPARQL, on the built graph or on a SPARQL server.

    Locally the query runs on Oxigraph, over the built graph (cached in .cache/store/ and rebuilt
    when its inputs change) or over a store given with --store. Parameters are bound as RDF terms
    (substituted by the engine, or on a server as a VALUES block of serialised terms): a value can
    never change what the query means. kgtool's prefixes (kg:, kgr:, rdfs:, ...) are predeclared.

    \b
    Example:
      kgtool query --list
      kgtool query reserve-figures --describe
      kgtool query deposit-profile --param deposit="Ak-Sugsky subsurface area" --format csv
      kgtool query -e 'SELECT ?s WHERE { ?s a kg:Deposit }' --format json --timeout 10
      kgtool query reserve-figures --endpoint http://localhost:8890/sparql --graph urn:kgtool
    """
    from dataclasses import replace

    from .queries import adhoc_query, find_saved_query, list_saved_queries, read_query_file
    from .rdfio import write_atomic
    from .render import query_description, query_list, query_output

    project = _project()
    sources = [s for s in (name, execute, query_file) if s is not None]
    if len(sources) > 1:
        raise click.UsageError("give one of NAME, --execute or --file")
    if endpoint is None and (graph_iri or method != "post"):
        raise click.UsageError("--graph and --method need --endpoint")
    if endpoint is not None and store_path is not None:
        raise click.UsageError("give --endpoint or --store, not both")
    if list_queries or not sources:
        if describe:
            raise click.UsageError("--describe needs the NAME of a saved query")
        click.echo(query_list(list_saved_queries(project.queries)))
        return
    given = _parameters(param)
    if execute is not None:
        saved = adhoc_query(execute)
    elif query_file is not None:
        saved = read_query_file(query_file)
    else:
        assert name is not None
        saved = find_saved_query(project.queries, name)
    if describe:
        click.echo(query_description(saved))
        return
    if endpoint is not None:
        from .endpoint import HttpMethod, connect, remote_labels, run_saved_remote

        server = connect(endpoint, method=HttpMethod(method), timeout=timeout, default_graph=graph_iri)
        result = run_saved_remote(server, saved, given)
        if out_format in ("table", "markdown", None) and result.rows:
            result = replace(result, labels=remote_labels(server, [t for row in result.rows for t in row]))
    else:
        from .cache import built_store, open_store
        from .queries import DEFAULT_LOCAL_TIMEOUT, run_saved_query

        store = open_store(store_path) if store_path is not None else built_store(project)
        result = run_saved_query(store, saved, given, timeout=timeout or DEFAULT_LOCAL_TIMEOUT,
                                 allow_service=allow_service)
    try:
        data = query_output(result, out_format)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomic(output, data)
    size = (f"{len(result.graph)} triples" if result.graph is not None else
            "a boolean" if result.boolean is not None else f"{len(result.rows)} rows")
    click.echo(f"wrote {size} as {out_format or ('turtle' if result.graph is not None else 'table')} -> {output}",
               err=True)


@main.command(epilog=EXIT_CODES)
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--append", is_flag=True, help="Add the files to what the store holds instead of replacing it.")
@reports_errors
def store(path: Path, files: tuple[Path, ...], append: bool) -> None:
    """Fill a persistent Oxigraph store in folder PATH with RDF FILES (or, with none, the built graph).

    Later commands read it with --store PATH without parsing anything again. The store is written
    beside PATH and then put in its place, so a failed load leaves the old one. Formats by extension:
    .nt .nq .ttl .trig .rdf .owl .xml .jsonld .n3 (named graphs are merged into the default graph).

    \b
    Example:
      kgtool synth --triples 1000000 --seed 7 --output big.nt
      kgtool store big.store big.nt
      kgtool query reserve-figures --store big.store
    """
    from .cache import fill_store

    filled = fill_store(path, project=None if files else _project(), files=list(files), append=append)
    click.echo(f"stored {len(filled)} triples in {path}")


@main.command(epilog=EXIT_CODES)
@click.option("--triples", "-n", required=True, type=click.IntRange(min=1), metavar="N",
              help="About how many triples to generate (within 5%).")
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="The same seed gives the same graph.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the graph: N-Triples (.nt) or Turtle (.ttl).")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the list of planted SHACL violations as JSON (default: OUTPUT.manifest.json).")
@reports_errors
def synth(triples: int, seed: int, output: Path, manifest: Path | None) -> None:
    """Generate a synthetic graph in kgtool's ontology, for tests and benchmarks at any size.

    States, regions, firms with control chains that change over time, deposits, facilities,
    elements, quantitative claims with evidence and deliberate conflicts, and a known list of
    planted SHACL violations (written to the manifest); apart from those it conforms to shapes/.

    \b
    Example:
      kgtool synth --triples 100000 --seed 7 --output synth-100k.nt
      kgtool validate synth-100k.nt --format json
    """
    from .synth import write_synth

    manifest = manifest or output.with_name(output.name + ".manifest.json")
    written = write_synth(output, triples, seed, manifest_path=manifest)
    click.echo(f"wrote {written.triples} triples with {len(written.violations)} planted SHACL results -> {output} "
               f"(manifest: {manifest})")


@main.command(epilog=EXIT_CODES)
@click.option("--endpoint", required=True, metavar="URL", help="The server's SPARQL endpoint.")
@click.option("--graph", "graph_iri", required=True, metavar="IRI", help="The named graph to replace.")
@click.option("--input", "input_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Load this RDF file instead of the built graph.")
@click.option("--via", type=click.Choice(["auto", "graph-store", "update"]), default="auto", show_default=True,
              help="Graph Store Protocol PUT, SPARQL Update (INSERT DATA in chunks), or the first that works.")
@click.option("--graph-store", metavar="URL",
              help="The Graph Store Protocol service (default: the endpoint's URL with /sparql-graph-crud, "
                   "Virtuoso's convention).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Time limit for each request (default 60 s).")
@reports_errors
def load(endpoint: str, graph_iri: str, input_path: Path | None, via: str, graph_store: str | None,
         timeout: float | None) -> None:
    """Put the built graph (or an RDF file) into a named graph on a SPARQL server, replacing it.

    The triples go to a staging graph first and are counted there; one update then moves them
    onto the target, which is counted again. On any failure the target keeps its old triples and
    the message says what state the server is in. Credentials as for kgtool query --endpoint.

    \b
    Example:
      kgtool load --endpoint http://localhost:8890/sparql --graph urn:kgtool
      kgtool load --endpoint http://localhost:8890/sparql --graph urn:extra --input extra.ttl --via update
    """
    from .endpoint import LoadMethod, connect
    from .endpoint import load as load_into

    server = connect(endpoint, timeout=timeout, graph_store=graph_store)
    if input_path is not None:
        from .rdfio import load_graph

        graph = load_graph(input_path)
    else:
        from .build import build as build_graph

        graph = build_graph(_project()).graph
    report = load_into(server, graph, graph_iri, via=LoadMethod(via))
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"loaded {report.triples} triples into <{report.target}> at {server.url} "
               f"(it held {report.previous}) by {report.method}")


@main.command(epilog=EXIT_CODES)
@click.argument("doc_id", required=False)
@click.option("--removed", is_flag=True, help="Show what the cleaner removed, with reasons.")
@reports_errors
def corpus(doc_id: str | None, removed: bool) -> None:
    """List the source documents, or show one's cleaned text (and what was removed).

    \b
    Example:
      kgtool corpus 003 --removed
    """
    from .corpus import read_corpus
    from .errors import BadInputError

    documents = read_corpus(_project().sources)
    if doc_id is None:
        for document in documents.values():
            click.echo(f"{document.doc_id}  {document.path.name}  {len(document.text)} chars, "
                       f"{len(document.kept)} paragraphs kept, {len(document.removed)} removed")
        return
    if doc_id not in documents:
        raise BadInputError(f"no document {doc_id!r} in the corpus", hint=f"known: {', '.join(documents)}")
    document = documents[doc_id]
    if removed:
        for removal in document.removed:
            text = document.text[removal.span.start:removal.span.end]
            click.echo(f"{removal.span.start}-{removal.span.end}  {removal.reason}: {text[:70]}")
        return
    click.echo(document.cleaned_text)


@main.command(epilog=EXIT_CODES)
@click.argument("data", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--shapes", "-s", "shape_paths", multiple=True, type=click.Path(path_type=Path),
              help="Shapes file or folder (default: shapes/); repeatable.")
@click.option("--inference", "-i", type=click.Choice(["none", "rdfs", "owlrl"]), default="none", show_default=True,
              help="Entailment before validating. The ontology is always merged into the data graph, so "
                   "targets reach subclass instances without any.")
@click.option("--format", "-f", "out_format", type=click.Choice(["text", "turtle", "json", "junit"]),
              default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--max-violations", type=click.IntRange(min=1), help="Show at most this many results (text).")
@click.option("--allow-warnings", is_flag=True, help="Exit 0 when there are warnings but no violations.")
@click.option("--engine", type=click.Choice(["auto", "pyshacl", "sparql"]), default="auto", show_default=True,
              help="pySHACL (the reference), or the shapes compiled to SPARQL on Oxigraph (DATA files are "
                   "loaded straight into it): the same results. auto takes pySHACL below 20,000 triples "
                   "and SPARQL from there up.")
@click.option("--endpoint", metavar="URL",
              help="Validate the graph on this SPARQL server where it lives (the SPARQL engine). "
                   "Credentials as for kgtool query --endpoint.")
@click.option("--graph", "graph_iri", metavar="IRI",
              help="With --endpoint: validate this named graph (it must hold the ontology too, as kgtool load "
                   "puts it there).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With --endpoint: time limit for each query (default 60 s).")
@click.option("--store", "store_path", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Validate the persistent store that kgtool store (or build --store) wrote, without parsing "
                   "anything again (the SPARQL engine).")
@reports_errors
def validate(data: tuple[Path, ...], shape_paths: tuple[Path, ...], inference: str, out_format: str,
             output: Path | None, max_violations: int | None, allow_warnings: bool, engine: str,
             endpoint: str | None, graph_iri: str | None, timeout: float | None, store_path: Path | None) -> None:
    """Validate the built graph, the given RDF files, a persistent store, or a graph on a SPARQL server,
    against the shapes.

    Says on stderr which engine ran on how many triples, and why --engine auto did not take the
    SPARQL engine where it would have. Exits 0 when it conforms (or has only infos, or warnings with
    --allow-warnings), 1 on violations or warnings, 3 on malformed data or shapes (or shapes the
    SPARQL engine cannot check), 4 when the SPARQL server fails.

    \b
    Example:
      kgtool validate --format junit --output dist/shacl.xml
      kgtool validate my-additions.ttl --allow-warnings
      kgtool validate big.nt --engine sparql --format json
      kgtool validate --store big.store --format json
      kgtool validate --endpoint http://localhost:8890/sparql --graph urn:kgtool
    """
    from .rdfio import write_atomic
    from .render import validation_json, validation_junit, validation_text
    from .validate import Inference, load_shapes
    from .validation import Engine, validate_with

    if endpoint is None and (graph_iri or timeout is not None):
        raise click.UsageError("--graph and --timeout need --endpoint")
    if endpoint is not None and data:
        raise click.UsageError("give DATA files or --endpoint, not both")
    if inference != "none" and (engine == "sparql" or endpoint is not None):
        raise click.UsageError("--inference needs the pySHACL engine (--engine pyshacl or auto, no --endpoint)")
    if endpoint is not None and engine == "pyshacl":
        raise click.UsageError("--endpoint validates with the SPARQL engine: use --engine sparql or auto")
    if store_path is not None and (data or endpoint is not None):
        raise click.UsageError("give DATA files, --store or --endpoint, not two of them")
    if store_path is not None and engine == "pyshacl":
        raise click.UsageError("--store validates with the SPARQL engine (pySHACL would see Oxigraph's canonical "
                               "literals): use --engine sparql or auto, or validate the RDF files")
    if store_path is not None and inference != "none":
        raise click.UsageError("--inference needs the pySHACL engine, which cannot read a --store")
    project = _project()
    shapes = load_shapes(list(shape_paths) or [project.shapes])
    if store_path is not None:
        from .cache import open_store

        source: Any = open_store(store_path)
        ontology: list[Path] = []
    elif endpoint is not None:
        from .endpoint import connect

        source = connect(endpoint, timeout=timeout, default_graph=graph_iri)
        ontology = []
    elif data:
        from .ontology import load_ontology

        source, ontology = list(data), list(load_ontology(project.ontology).files)
    else:
        from .build import build as build_graph

        source, ontology = build_graph(project).graph, []
    done = validate_with(source, shapes, engine=Engine(engine), ontology=ontology, inference=Inference(inference))
    report, labels = done.report, done.labels
    if out_format == "turtle":
        text = report.graph.serialize(format="longturtle")
    elif out_format == "json":
        text = validation_json(report)
    elif out_format == "junit":
        text = validation_junit(report, labels)
    else:
        text = validation_text(report, labels, limit=max_violations)
    if output is not None:
        write_atomic(output, text.encode("utf-8"))
        click.echo(validation_text(report, labels, limit=0).splitlines()[-1], err=True)
    else:
        click.echo(text)
    click.echo(done.summary, err=True)
    for note in done.notes:
        click.echo(f"warning: {note}", err=True)
    if report.fails(allow_warnings=allow_warnings):
        sys.exit(1)


@main.command(epilog=EXIT_CODES)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Which checks run at which level (default: lint.yaml).")
@click.option("--format", "-f", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@reports_errors
def lint(config_path: Path | None, out_format: str) -> None:
    """Lint the ontology and the graph (labels, definitions, undeclared or unused terms, domains and ranges).

    Exits 1 when there is an ERROR or WARN finding.

    \b
    Example:
      kgtool lint --config lint.yaml
    """
    from .build import build as build_graph
    from .lint import DEFAULT_CONFIG, load_lint_config
    from .lint import lint as run_lint
    from .render import lint_json, lint_text
    from .store import new_graph
    from .validate import load_shapes

    project = _project()
    path = config_path or project.lint_config
    config = load_lint_config(path) if config_path or path.exists() else DEFAULT_CONFIG
    result = build_graph(project)
    shapes = load_shapes([project.shapes]) if any(project.shapes.glob("*.ttl")) else new_graph()
    report = run_lint(result.sources.ontology.graph, result.graph, shapes, config)
    click.echo(lint_json(report) if out_format == "json" else lint_text(report))
    if report.fails():
        sys.exit(1)


@main.command(epilog=EXIT_CODES)
@click.option("--reasoner", type=click.Choice(["hermit", "pellet"]), default="hermit", show_default=True)
@click.option("--allow-warnings", is_flag=True, help="SHACL warnings do not fail the check.")
@reports_errors
def check(reasoner: str, allow_warnings: bool) -> None:
    """Build, then run coverage, lint, the reasoner and SHACL validation, with one summary.

    Run this before committing curated data. The exit code is the worst step's.

    \b
    Example:
      kgtool check
    """
    from .check import overall_exit_code, run_check
    from .reason import Reasoner

    steps = run_check(_project(), reasoner=Reasoner(reasoner), allow_warnings=allow_warnings)
    for step in steps:
        click.echo(f"{step.name:9} {step.status:8} {step.summary}")
    code = overall_exit_code(steps)
    click.echo("all checks passed" if code == 0 else f"check failed (exit {code})")
    sys.exit(code)


@main.command(epilog=EXIT_CODES)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--format", "-f", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--review", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a review file (curated facts format) for the one FILE here.")
@click.option("--date", "doc_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The document's date, to resolve relative dates (default: its own date line, if any).")
@click.option("--add", is_flag=True, help="Also store FILE in corpus/sources/ and register it in data/documents.yaml.")
@click.option("--accept", "accept_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check a reviewed file and place it as data/facts/<doc>.yaml.")
@click.option("--overwrite", is_flag=True,
              help="With --accept: replace an existing facts file; with --review: an existing review file.")
@reports_errors
def ingest(files: tuple[Path, ...], out_format: str, review: Path | None, doc_date: Any, add: bool,
           accept_path: Path | None, overwrite: bool) -> None:
    """Read a new article: link what the graph knows, find quantities and dates, propose new entities.

    Writes a review file in the curated facts format (every quote filled in); after review,
    --accept places it in data/facts/, and the next build verifies its quotes as usual.

    \b
    Example:
      kgtool ingest article.txt --add --review review.yaml
      kgtool ingest --accept review.yaml && kgtool build
    """
    from .build import build as build_graph
    from .ingest import (MAX_BYTES, accept, add_document, check_review_target, ingest_bytes, ingest_file,
                         next_doc_id, project_lexicon, render_text, to_json, write_review)

    project = _project()
    if accept_path is not None:
        target = accept(accept_path, project, overwrite=overwrite)
        click.echo(f"accepted {accept_path} -> {target}; run `kgtool build` to check its quotes")
        return
    if not files:
        raise click.UsageError("give FILE... (or - for stdin), or --accept REVIEWED.yaml")
    if review is not None and len(files) != 1:
        raise click.UsageError("--review takes exactly one FILE")
    if review is not None:
        check_review_target(review, overwrite=overwrite)
    graph = build_graph(project).graph
    lexicon = project_lexicon(graph, project)
    when = doc_date.date() if doc_date else None
    results = []
    for file in files:
        data = sys.stdin.buffer.read(MAX_BYTES + 1) if str(file) == "-" else None
        doc_id = None
        if add:
            doc_id = add_document(data if data is not None else file, project).name[:3]
        elif review is not None:
            doc_id = next_doc_id(project)
        if data is not None:
            result = ingest_bytes(data, graph=graph, doc_date=when, doc_id=doc_id, lexicon=lexicon)
        else:
            result = ingest_file(file, graph=graph, doc_date=when, doc_id=doc_id, lexicon=lexicon)
        if review is not None:
            write_review(result, review, overwrite=overwrite)
        results.append(result)
    if out_format == "json":
        click.echo(json.dumps([to_json(r) for r in results], indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(render_text(r) for r in results), nl=False)
    if review is not None:
        click.echo(f"review file: {review}", err=True)


@main.command(epilog=EXIT_CODES)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Anything but loopback lets other machines query the graph.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")
@click.option("--store", "store_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Serve this persistent Oxigraph store (kgtool build --store) instead of the built graph.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30, show_default=True,
              metavar="SECONDS", help="Stop a query after this long; the client gets HTTP 503 saying so.")
@click.option("--result-cap", type=click.IntRange(min=1), default=10000, show_default=True, metavar="N",
              help="Cut longer answers at N rows or triples; the client is told (header Kgtool-Result-Truncated).")
@click.option("--allow-updates", is_flag=True,
              help="Accept SPARQL Update: it changes the graph held in memory (or the --store), never the project's files.")
@reports_errors
def serve(host: str, port: int, store_path: Path | None, timeout: float, result_cap: int, allow_updates: bool) -> None:
    """Serve the graph: a SPARQL 1.1 endpoint, a query workbench and entity pages.

    /sparql answers GET and POST (SELECT and ASK as JSON, XML, CSV or TSV; CONSTRUCT and
    DESCRIBE as Turtle or JSON-LD, by Accept or ?format=) and gives its service description
    without a query; it is read-only unless --allow-updates. / is the workbench (the saved
    queries as tabs, their parameters as fields), /entity/kgr:russia an entity's claims with
    their sources, quotes and conflicts. Nothing is fetched from other hosts. Ctrl-C stops.

    \b
    Example:
      kgtool serve --port 8000 --timeout 10
      curl -H 'Accept: text/csv' --data-urlencode 'query=SELECT * WHERE { ?s a kg:Deposit }' localhost:8000/sparql
    """
    from .serve import is_loopback, serve_forever
    from .store import Store

    project = _project()
    source = project
    if store_path is not None:
        source = Store.on_disk(store_path) if allow_updates else Store.read_only(store_path)
    if not is_loopback(host):
        click.echo(f"warning: listening on {host}: other machines can query the graph", err=True)

    def announce(url: str) -> None:
        mode = "updates allowed" if allow_updates else "read-only"
        click.echo(f"serving the workbench at {url}/ and the SPARQL endpoint at {url}/sparql ({mode}); "
                   "Ctrl-C stops", err=True)

    serve_forever(source, host=host, port=port, queries=project.queries, read_only=not allow_updates,
                  timeout=timeout, result_cap=result_cap, announce=announce)


def _picture_format(image_format: str | None, output: Path | None, *, dot: bool = True) -> Any:
    """The format asked for, else the one --output's suffix names (Graphviz's source only where `dot`),
    else SVG."""
    from .pictures import ImageFormat

    if image_format is not None:
        return ImageFormat(image_format)
    allowed = tuple(ImageFormat) if dot else (ImageFormat.SVG, ImageFormat.PNG)
    return ImageFormat.for_path(output, allowed=allowed) if output is not None else ImageFormat.SVG


def _write_picture(picture: Any, output: Path | None) -> None:
    from .rdfio import write_atomic

    if output is None:
        if picture.format.value == "png" and sys.stdout.isatty():
            raise click.UsageError("a PNG is not for a terminal: give --output FILE.png")
        sys.stdout.buffer.write(picture.data)
        sys.stdout.flush()
        click.echo(f"drew {picture.summary}", err=True)
        return
    write_atomic(output, picture.data)
    click.echo(f"drew {picture.summary} -> {output}")


@main.command(name="graph", epilog=EXIT_CODES)
@click.option("--query", "query_name", metavar="NAME",
              help="Draw the answer of this saved CONSTRUCT (or DESCRIBE) query instead of the control network.")
@click.option("--param", "-p", multiple=True, metavar="NAME=VALUE",
              help="With --query: bind a parameter as an RDF term, never spliced. Repeatable.")
@click.option("--format", "-f", "image_format", type=click.Choice(["svg", "png", "dot"]),
              help="Default: the --output suffix (.svg, .png, .dot), else svg.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the picture here (atomically) instead of to standard output.")
@reports_errors
def graph_command(query_name: str | None, param: tuple[str, ...], image_format: str | None,
                  output: Path | None) -> None:
    """Draw the control network, or a saved CONSTRUCT query's answer, with Graphviz.

    The control network: states, state corporations, their subsidiaries and the deposits and
    facilities they own, control or hold licences for, from the relation claims, with each
    arrow's dates and source documents (ended relations dashed). Needs Graphviz's `dot` for
    SVG and PNG (exit 4 without it); DOT needs nothing. The same graph gives the same bytes.

    \b
    Example:
      kgtool graph --output docs/images/control-network.svg
      kgtool graph --query control-network --output control.png
    """
    from .build import build as build_graph
    from .pictures import draw_construct, draw_network
    from .queries import find_saved_query

    if param and query_name is None:
        raise click.UsageError("--param needs --query")
    given = _parameters(param)
    fmt = _picture_format(image_format, output)
    project = _project()
    saved = find_saved_query(project.queries, query_name) if query_name is not None else None
    graph = build_graph(project).graph
    picture = draw_network(graph, fmt) if saved is None else draw_construct(graph, saved, given, fmt)
    _write_picture(picture, output)


@main.command(epilog=EXIT_CODES)
@click.option("--subject", default="kgr:russia", show_default=True, metavar="IRI|LABEL",
              help="What the claims are about: a prefixed name, a full IRI or an entity's label.")
@click.option("--measure", default="kgv:reserves", show_default=True, metavar="IRI|LABEL",
              help="The measure (kgv:reserves, kgv:production-share, ... or its label).")
@click.option("--commodity", metavar="IRI|LABEL", help="Only the claims about this material (default: all).")
@click.option("--format", "-f", "image_format", type=click.Choice(["svg", "png"]),
              help="Default: the --output suffix (.svg, .png), else svg.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the chart here (atomically) instead of to standard output.")
@reports_errors
def chart(subject: str, measure: str, commodity: str | None, image_format: str | None, output: Path | None) -> None:
    """Chart every quantitative claim for one measure of one subject, by source, conflicts marked.

    One bar per claim, named by source document, who it is attributed to and its time, with the
    figure as the source states it; one panel per commodity and unit (units from the graph).
    Claims in conflict (kg:conflictsWith) are red and hatched, naming the sources they conflict with.

    \b
    Example:
      kgtool chart --subject kgr:russia --measure kgv:reserves --output docs/images/reserves-russia.svg
      kgtool chart --subject China --measure "share of world production" --output share.png
    """
    from .build import build as build_graph
    from .pictures import draw_chart

    fmt = _picture_format(image_format, output, dot=False)
    graph = build_graph(_project()).graph
    _write_picture(draw_chart(graph, subject=subject, measure=measure, commodity=commodity, image_format=fmt),
                   output)


@main.command(name="docs", epilog=EXIT_CODES)
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write index.html into (default: dist/docs).")
@reports_errors
def docs_command(output: Path | None) -> None:
    """Write static HTML documentation of the ontology, offline.

    Every class and property with its label, definition, super- and subclasses, domain and
    range, the SHACL shapes that apply and example instances from the built graph; also the
    shapes and the code lists. A missing label or definition is a warning, not a failure.

    \b
    Example:
      kgtool docs --output dist/docs
    """
    from .docs import document_project, write_docs

    project = _project()
    documentation = document_project(project)
    for warning in documentation.warnings:
        click.echo(f"warning: {warning}", err=True)
    target = write_docs(documentation, output or project.dist / "docs")
    click.echo(f"documented {len(documentation.terms)} classes and properties and {len(documentation.concepts)} "
               f"concepts ({len(documentation.warnings)} warnings) -> {target}")
