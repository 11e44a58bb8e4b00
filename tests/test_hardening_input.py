"""Hostile and broken input: files from strangers, query text and parameters crafted to do harm.

Every malformed or hostile RDF file is one message naming the file and the line, exit 3, no traceback,
in bounded memory (measured in a child process under an address-space limit). Nothing is read from
disk or fetched from the network on a file's say-so: external entities and DTDs, entity expansion,
remote JSON-LD contexts, owl:imports and SERVICE clauses are refused or ignored. A loopback listener
stands in for "the network" and must see no connection; the `no_network` guard fails any other.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, Literal, URIRef

from kgtool.cli import main
from kgtool.errors import BadInputError
from kgtool.namespaces import KGR, OWL, RDF, RDFS
from kgtool.ontology import load_ontology
from kgtool.queries import adhoc_query, run_saved_query, run_sparql
from kgtool.rdfio import load_graph
from kgtool.untrusted import MAX_BLANK_NODES, MAX_NESTING

from .conftest import ROOT

PREFIX = "@prefix ex: <http://example.org/> .\n"
RDF_XML_HEAD = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns:ex="http://example.org/">\n')


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection (and the first bytes sent), then hangs up."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(4096))
                except OSError:
                    self.received.append(b"")


@pytest.fixture()
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.socket.close()


_opened: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _opened is not None and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@contextmanager
def files_opened() -> Iterator[list[str]]:
    """Every file the process opens inside the block (Python's audit hook for `open`)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def diff_cli(bad: Path) -> object:
    """`kgtool diff BAD GOOD`: the command parses BAD through kgtool's guarded reader."""
    good = bad.with_name("good.ttl")
    good.write_text(PREFIX + "ex:a ex:p ex:b .\n", encoding="utf-8")
    return CliRunner().invoke(main, ["diff", str(bad), str(good)])


def assert_bad_input_at(result: object, path: Path, line: int, words: str) -> None:
    """Exit 3, one `error: FILE:LINE: ...` message (and its hint), no traceback, nothing on stdout."""
    assert result.exit_code == 3, (result.exit_code, result.output)  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert stderr.startswith(f"error: {path}:{line}: "), stderr[:500]
    assert words in stderr.splitlines()[0], stderr[:500]
    assert "Traceback" not in stderr and len(stderr.splitlines()) <= 2
    assert result.stdout == ""  # type: ignore[attr-defined]


# ---- malformed and hostile files: one message, file and line, exit 3 ------------------------------------

MALFORMED: dict[str, tuple[str, bytes, int, str]] = {
    "turtle truncated mid-triple": ("cut.ttl", (PREFIX + "ex:a ex:p ex:b .\nex:a ex:p \"an unfinished").encode(),
                                    3, "malformed turtle"),
    "turtle with a stray term": ("stray.ttl", (PREFIX + "ex:a ex:p ex:b .\n\nex:a ex:p ex:b ex:c .\n").encode(),
                                 4, "malformed turtle"),
    "invalid UTF-8": ("latin1.ttl", (PREFIX + "ex:a ex:p \"ok\" .\nex:a ex:p \"caf\xe9\" .\n").encode("latin-1"),
                      3, "not valid UTF-8"),
    "RDF/XML in ISO-8859-1": ("latin1.rdf", ('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + RDF_XML_HEAD
                                             + '<rdf:Description rdf:about="http://example.org/a">\n'
                                               "<ex:p>caf\xe9</ex:p></rdf:Description></rdf:RDF>\n").encode("latin-1"),
                              4, "the file is in ISO-8859-1 (so says its XML declaration), and kgtool reads "
                                 "RDF/XML only in UTF-8"),
    "RDF/XML truncated": ("cut.rdf", (RDF_XML_HEAD + '<rdf:Description rdf:about="http://example.org/a">\n'
                                      '<ex:p>text').encode(), 3, "malformed RDF/XML"),
    "JSON-LD truncated": ("cut.jsonld", b'{"@id": "http://example.org/a",\n "http://example.org/p": [\n', 3,
                          "malformed JSON-LD"),
    "deeply nested collections": ("lists.ttl", (PREFIX + "ex:a ex:p\n" + "(" * 100_000 + ")" * 100_000 + " .\n")
                                  .encode(), 3, f"nested more than {MAX_NESTING} levels deep"),
    "deeply nested blank nodes": ("nodes.ttl", (PREFIX + "\nex:a ex:p " + "[ ex:p " * 10_000 + "ex:b"
                                                + " ]" * 10_000 + " .\n").encode(), 3, "nested more than"),
    "deeply nested JSON-LD": ("deep.jsonld", ('{"@id": "http://example.org/a",\n"http://example.org/p": '
                                             + '{"http://example.org/p": ' * 10_000 + '"x"' + "}" * 10_001)
                              .encode(), 2, "nested more than"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_is_one_message_with_file_and_line(case: str, tmp_path: Path) -> None:
    name, data, line, words = MALFORMED[case]
    path = tmp_path / name
    path.write_bytes(data)
    assert_bad_input_at(diff_cli(path), path, line, words)


def test_a_million_blank_nodes_are_refused_at_the_line_of_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bnodes.nt"
    with path.open("w", encoding="utf-8") as stream:
        for i in range(10 ** 6):
            stream.write(f"_:b{i} <http://example.org/p> _:b{i + 1} .\n")
    # b0 .. b(MAX) are MAX + 1 labels: the limit is passed on the line that names b(MAX)
    assert_bad_input_at(diff_cli(path), path, MAX_BLANK_NODES, f"more than {MAX_BLANK_NODES} blank nodes")


# ---- bounded memory: the hostile parse in a child process under an address-space limit ----------------

ADDRESS_SPACE = 1536 << 20
CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from pathlib import Path
from kgtool.errors import BadInputError
from kgtool.rdfio import load_graph
try:
    outcome = {{"triples": len(load_graph(Path(sys.argv[1])))}}
except BadInputError as error:
    outcome = {{"error": error.message, "line": error.line, "path": str(error.path)}}
except MemoryError:
    outcome = {{"error": "MemoryError"}}
status = open("/proc/self/status").read()  # VmHWM: this process's own peak (ru_maxrss counts the parent's)
outcome["max_rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) // 1024
print(json.dumps(outcome))
"""


def parse_in_child(path: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD.format(limit=ADDRESS_SPACE), str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


def write_lines(path: Path, count: int, line: Callable[[int], str], head: str = "") -> Path:
    with path.open("w", encoding="utf-8") as stream:
        stream.write(head)
        for i in range(count):
            stream.write(line(i))
    return path


def test_a_million_blank_nodes_take_bounded_memory(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bnodes.ttl", 10 ** 6, lambda i: f"_:b{i} ex:p [ ex:q _:b{i + 1} ] .\n", PREFIX)
    outcome = parse_in_child(path)
    assert outcome["error"] == f"more than {MAX_BLANK_NODES} blank nodes" and isinstance(outcome["line"], int)
    assert int(outcome["max_rss_mb"]) < 512  # type: ignore[call-overload]


# Every line below makes exactly one blank node, of each kind in turn: the limit is passed on the line of the
# (MAX + 1)th. rdflib would take about 2 GB for a million of them.
RDF_XML_NODES = ('<ex:T rdf:nodeID="b{i}"/>\n', "<ex:T/>\n",
                 '<ex:T rdf:about="#a"><ex:p rdf:parseType="Resource"/></ex:T>\n',
                 '<ex:T rdf:about="#a"><ex:p rdf:parseType="Collection"><ex:T rdf:about="#b"/></ex:p></ex:T>\n')
JSON_LD_NODES = ('{{"@id": "_:b{i}", "@type": "ex:T"}},\n', '{{"@type": "ex:T"}},\n',
                 '{{"@id": "ex:a", "ex:list": {{"@list": ["x"]}}}},\n', '{{"@id": "ex:a", "ex:p": {{"ex:q": 1}}}},\n')


@pytest.mark.parametrize("name, head, nodes, tail", [
    ("bnodes.rdf", '<?xml version="1.0"?>\n' + RDF_XML_HEAD, RDF_XML_NODES, "</rdf:RDF>\n"),
    ("bnodes.jsonld", '{"@context": {"ex": "http://example.org/"},\n"@graph": [\n', JSON_LD_NODES,
     '{"@id": "ex:end"}]}\n'),
], ids=["rdf-xml", "json-ld"])
def test_a_million_blank_nodes_in_rdf_xml_or_json_ld_are_refused_in_bounded_memory(
        name: str, head: str, nodes: tuple[str, ...], tail: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / name, 10 ** 6, lambda i: nodes[i % 4].format(i=i), head)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(tail)
    line = head.count("\n") + MAX_BLANK_NODES + 1
    outcome = parse_in_child(path)
    assert outcome["error"] == f"more than {MAX_BLANK_NODES} blank nodes", outcome
    assert outcome["line"] == line and outcome["path"] == str(path)
    assert int(outcome["max_rss_mb"]) < 512  # type: ignore[call-overload]
    assert_bad_input_at(diff_cli(path), path, line, f"more than {MAX_BLANK_NODES} blank nodes")


# Tricks that hid blank nodes from the Turtle pre-check's tokenizer (rdflib reads each file below as written,
# and makes MORE blank nodes than the limit): the check must count what rdflib parses.
MORE = MAX_BLANK_NODES + 50_000
BYPASSES: dict[str, tuple[str, str, int]] = {
    # an escaped "#" in a local name was taken for a comment: the rest of the line went unread
    "escaped # in a prefixed name": ("hash.ttl", PREFIX + "ex:s ex:p ex:a\\# . ex:s ex:q " + "[], " * MORE
                                     + "[] .\n", 2),
    # an escaped quote in a local name opened a "string" that ran to the next quote on the line
    "escaped quote in a prefixed name": ("quote.ttl", PREFIX + "ex:s ex:p ex:a\\' . ex:s ex:q " + "[], " * MORE
                                         + "[] . ex:s ex:r \"it's\" .\n", 2),
    "escaped # in a blank node label": ("label.ttl", PREFIX + "ex:s ex:p _:a\\#b . ex:s ex:q " + "[], " * MORE
                                        + "[] .\n", 2),
    # rdflib reads an IRI to the next ">", whatever is in between
    "# in an IRI with a space": ("iri.ttl", PREFIX + "ex:s ex:p <a b#c> . ex:s ex:q " + "[], " * MORE + "[] .\n", 2),
    # a long string closed by four quotes: the fourth is part of the string, not the start of another
    "long string closed by four quotes": ("quotes.ttl", PREFIX + 'ex:s ex:p """a"""" . ex:s ex:q ' + "[], " * MORE
                                          + '"x" .\n', 2),
    # a label may hold dots (_:x.1); they were taken for the end of the statement
    "labels with dots": ("dots.ttl", PREFIX + "".join(f"ex:s ex:p _:x.{i} .\n" for i in range(MORE)),
                         MAX_BLANK_NODES + 2),
    # N-Triples ends a line (and a comment) at a lone carriage return
    "N-Triples comment ending at a carriage return": (
        "cr.nt", "".join(f"# {i}\r_:b{i} <http://example.org/p> <http://example.org/o> .\n" for i in range(MORE)),
        MAX_BLANK_NODES + 1),
    # every member of a collection is a blank node (an rdf:first / rdf:rest cell), not only the "("
    "collection members": ("list.ttl", PREFIX + "ex:s ex:p (" + " 1" * MORE + " ) .\n", 2),
    # a path step (ex:a!ex:b) makes a blank node, in rdflib's Turtle too
    "path steps": ("path.ttl", PREFIX + "ex:s ex:p " + "ex:a!ex:b, " * MORE + "ex:c .\n", 2),
}


@pytest.mark.parametrize("case", sorted(BYPASSES))
def test_no_trick_hides_blank_nodes_from_the_check(case: str, tmp_path: Path) -> None:
    name, text, line = BYPASSES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    assert_bad_input_at(diff_cli(path), path, line, f"more than {MAX_BLANK_NODES} blank nodes")


def test_no_trick_hides_nesting_from_the_check(tmp_path: Path) -> None:
    path = tmp_path / "deep.ttl"
    path.write_text(PREFIX + "ex:s ex:p ex:a\\# . ex:s ex:q " + "[ ex:p " * 2000 + "ex:b" + " ]" * 2000 + " .\n",
                    encoding="utf-8")
    assert_bad_input_at(diff_cli(path), path, 2, f"nested more than {MAX_NESTING} levels deep")


def test_rdf_xml_declared_in_another_encoding_but_plain_ascii_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ascii.rdf"
    path.write_bytes(('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + RDF_XML_HEAD
                      + '<rdf:Description rdf:about="http://example.org/a"><ex:p>cafe</ex:p></rdf:Description>'
                        "</rdf:RDF>\n").encode("ascii"))
    assert set(load_graph(path)) == {(URIRef("http://example.org/a"), URIRef("http://example.org/p"), Literal("cafe"))}


def test_an_enormous_literal_takes_memory_in_proportion(tmp_path: Path) -> None:
    path = tmp_path / "big.ttl"
    path.write_text(PREFIX + 'ex:a ex:p "' + "x" * (50 << 20) + '" .\n', encoding="utf-8")
    outcome = parse_in_child(path)
    assert outcome.get("triples") == 1, outcome
    assert int(outcome["max_rss_mb"]) < 8 * 50 + 100  # type: ignore[call-overload]
    cut = tmp_path / "cut.ttl"
    cut.write_text(PREFIX + 'ex:a ex:p "' + "x" * (50 << 20) + "\n", encoding="utf-8")
    outcome = parse_in_child(cut)
    assert outcome["line"] == 2 and "malformed turtle" in str(outcome["error"])


def billion_laughs(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">'
                                          for i in range(1, levels)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(entities) + "\n]>\n" + RDF_XML_HEAD
            + f'<rdf:Description rdf:about="http://example.org/a"><ex:p>&lol{levels - 1};</ex:p>'
              "</rdf:Description>\n</rdf:RDF>\n")


def test_entity_expansion_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "lol.rdf"
    path.write_text(billion_laughs(), encoding="utf-8")
    outcome = parse_in_child(path)
    assert outcome["line"] == 4 and "the entity &lol1; refers to other entities" in str(outcome["error"])
    assert int(outcome["max_rss_mb"]) < 256  # type: ignore[call-overload]


def test_entity_expansion_by_repetition_is_refused(tmp_path: Path) -> None:
    value = "x" * 1000
    body = "<ex:p>" + "&big;" * 20_000 + "</ex:p>"
    path = tmp_path / "wide.rdf"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY big "{value}"> ]>\n' + RDF_XML_HEAD
                    + f'<rdf:Description rdf:about="http://example.org/a">\n{body}\n</rdf:Description></rdf:RDF>\n',
                    encoding="utf-8")
    with pytest.raises(BadInputError, match="entity expansion makes the text more than 10 times") as refused:
        load_graph(path)
    assert refused.value.line == 5


def test_short_internal_entities_as_protege_writes_them_still_work(tmp_path: Path) -> None:
    path = tmp_path / "protege.owl"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY owl "http://www.w3.org/2002/07/owl#" >\n'
                    ']>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
                    '  <rdf:Description rdf:about="http://example.org/C">\n'
                    '    <rdf:type rdf:resource="&owl;Class"/>\n  </rdf:Description>\n</rdf:RDF>\n', encoding="utf-8")
    assert set(load_graph(path)) == {(URIRef("http://example.org/C"), RDF.type, OWL.Class)}


# ---- nothing read or fetched on a file's say-so ---------------------------------------------------------

def test_an_external_entity_is_refused_and_the_file_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is swordfish", encoding="utf-8")
    path = tmp_path / "xxe.rdf"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY xxe SYSTEM "{secret.as_uri()}"> ]>\n'
                    + RDF_XML_HEAD + '<rdf:Description rdf:about="http://example.org/a"><ex:p>&xxe;</ex:p>'
                    "</rdf:Description></rdf:RDF>\n", encoding="utf-8")
    with files_opened() as opened:
        result = diff_cli(path)
    assert_bad_input_at(result, path, 2, "the external entity &xxe;")
    assert opened and str(secret) not in opened and "swordfish" not in result.output  # type: ignore[attr-defined]


def test_an_external_dtd_is_refused_and_never_fetched(tmp_path: Path, listener: Listener) -> None:
    path = tmp_path / "dtd.rdf"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{listener.url}/evil.dtd">\n' + RDF_XML_HEAD
                    + "</rdf:RDF>\n", encoding="utf-8")
    assert_bad_input_at(diff_cli(path), path, 2, "an external DTD")
    assert listener.received == []


@pytest.mark.parametrize("context, line", [("{url}/context.jsonld", 2), (["{url}/context.jsonld"], 3),
                                           ({"@import": "{url}/c.jsonld"}, 3), ("https://schema.org/", 2),
                                           ("{secret}", 2)])
def test_a_jsonld_context_by_iri_is_refused_and_never_fetched(context: object, line: int, tmp_path: Path,
                                                             listener: Listener) -> None:
    secret = tmp_path / "secret.jsonld"
    secret.write_text('{"@context": {"name": "http://example.org/leaked"}}', encoding="utf-8")
    filled = json.loads(json.dumps(context).replace("{url}", listener.url).replace("{secret}", secret.as_uri()))
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps({"@context": filled, "@id": "http://example.org/a", "name": "x"}, indent=1),
                    encoding="utf-8")
    with files_opened() as opened:
        result = diff_cli(path)
    assert_bad_input_at(result, path, line, "refers to a context by IRI")
    assert listener.received == [] and opened and str(secret) not in opened


def test_owl_imports_in_the_ontology_are_not_followed(tmp_path: Path, listener: Listener) -> None:
    outside = tmp_path / "outside" / "other.ttl"
    outside.parent.mkdir()
    outside.write_text(PREFIX + "ex:Leaked a <http://www.w3.org/2002/07/owl#Class> .\n", encoding="utf-8")
    folder = tmp_path / "ontology"
    folder.mkdir()
    (folder / "main.ttl").write_text(
        PREFIX + f"<http://example.org/onto> a <{OWL.Ontology}> ;\n"
        f"  <{OWL.imports}> <{listener.url}/other.owl>, <{outside.as_uri()}>, <https://example.org/far.owl> .\n",
        encoding="utf-8")
    with files_opened() as opened:
        ontology = load_ontology(folder)
    assert len(ontology.graph) == 4 and not ontology.is_class(URIRef("http://example.org/Leaked"))
    assert listener.received == [] and opened and str(outside) not in opened


@pytest.mark.java
def test_the_reasoner_does_not_follow_owl_imports(require_java: None, tmp_path: Path, listener: Listener) -> None:
    from kgtool.reason import reason

    outside = tmp_path / "other.owl"
    outside.write_text('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                       'xmlns:owl="http://www.w3.org/2002/07/owl#"><owl:Class rdf:about="http://example.org/X"/>'
                       "</rdf:RDF>\n", encoding="utf-8")
    graph = Graph()
    onto = URIRef("http://example.org/onto")
    imports = sorted([URIRef(f"{listener.url}/evil.owl"), URIRef(outside.as_uri())])
    graph.add((onto, RDF.type, OWL.Ontology))
    for iri in imports:
        graph.add((onto, OWL.imports, iri))
    graph.add((KGR.thing, RDFS.label, Literal("a thing")))
    with files_opened() as opened:
        report = reason(graph)
    assert report.consistent and list(report.ignored_imports) == imports
    assert listener.received == [] and opened and str(outside) not in opened


# ---- queries: SERVICE refused, parameters stay terms, runaway queries stopped -----------------------------

def labelled_graph(*labels: str) -> Graph:
    graph = Graph()
    for i, label in enumerate(labels):
        graph.add((KGR[f"e{i}"], RDFS.label, Literal(label)))
    return graph


def test_service_is_refused_locally_and_nothing_is_sent(listener: Listener) -> None:
    query = f"SELECT * WHERE {{\n  ?s ?p ?o .\n  SERVICE <{listener.url}/sparql> {{ ?s ?p ?o }}\n}}"
    with pytest.raises(BadInputError, match=r"remote SPARQL service \(SERVICE, line 3\)"):
        run_sparql(labelled_graph("a"), query)
    result = CliRunner().invoke(main, ["query", "-e", query.replace("?s ?p ?o .", "")])
    assert result.exit_code == 3 and "--allow-service" in result.stderr
    assert listener.received == []
    CliRunner().invoke(main, ["query", "-e", query.replace("?s ?p ?o .", ""), "--allow-service"])
    assert len(listener.received) == 1 and b"POST /sparql" in listener.received[0]


@pytest.mark.parametrize("query", [
    'SELECT ?s WHERE { ?s rdfs:label "SERVICE <http://example.org/>" }',
    "SELECT ?s WHERE { ?s rdfs:label ?l } # SERVICE <http://example.org/> { }",
    "SELECT ?service WHERE { ?service rdfs:label ?l . FILTER (?l != '''\nSERVICE\n''') }",
    "SELECT ?s WHERE { ?s <http://example.org/SERVICE> ?o }",
    "PREFIX service: <http://example.org/> SELECT ?s WHERE { ?s service:SERVICE ?o }",
])
def test_the_word_service_elsewhere_is_not_a_service_clause(query: str) -> None:
    run_sparql(labelled_graph("a"), query)  # no BadInputError


HOSTILE = ['x" } UNION { ?s ?p ?o } #', '") } UNION { ?s ?p ?o } #', "'} UNION {?s ?p ?o}", '"""', "\\",
           "a\n} UNION { ?s ?p ?o", "x\\u0022 } UNION { ?s ?p ?o } #"]
BY_LABEL = "# param: label string - the label\nSELECT ?s WHERE { ?s rdfs:label ?label } ORDER BY ?s"


@pytest.mark.parametrize("value", HOSTILE)
def test_a_crafted_parameter_stays_one_literal(value: str) -> None:
    graph = labelled_graph("plain", value)
    result = run_saved_query(graph, adhoc_query(BY_LABEL), {"label": value})
    assert [row[0] for row in result.rows] == [KGR.e1]
    other = run_saved_query(labelled_graph("plain"), adhoc_query(BY_LABEL), {"label": value})
    assert other.rows == ()


@pytest.mark.parametrize("value", ["<http://example.org/a> } UNION { ?s ?p ?o", "http://example.org/a>",
                                   "<http://example.org/a b>"])
def test_a_crafted_iri_parameter_is_refused(value: str) -> None:
    query = adhoc_query("# param: thing iri - a thing\nSELECT ?l WHERE { ?thing rdfs:label ?l }")
    with pytest.raises(BadInputError):
        run_saved_query(labelled_graph("plain"), query, {"thing": value})


RUNAWAY = ("SELECT ?a ?d ?g WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } "
           "ORDER BY DESC(STR(?c)) DESC(STR(?f)) DESC(STR(?i)) DESC(STR(?l))")


def test_a_cartesian_product_is_stopped_by_the_time_limit_in_bounded_memory(tmp_path: Path) -> None:
    # the CLI in a child process under an address-space limit (its query child inherits it): the query
    # must end with the time limit's message, not a MemoryError (exit 70) or the machine's memory
    script = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, ({0}, {0}))\n"
              "from kgtool.cli import main\nmain()\n").format(2 << 30)
    done = subprocess.run([sys.executable, "-c", script, "query", "-e", RUNAWAY, "--timeout", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 4, done.stderr[-2000:]
    assert done.stderr.startswith("error: the query gave no answer within 3 s (--timeout) and was stopped")
    assert "Traceback" not in done.stderr
