"""Property-based tests (hypothesis): for arbitrary text and arbitrary literal values (any Unicode,
quotes, backslashes, newlines, language tags, datatypes), the cleaner's offsets point into the stored
text, the quote verifier finds exactly what is there, the linker's mentions are where it says, and
every serialisation kgtool writes parses back, through its own guarded reader, to the same graph.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kgtool.build import BuildResult
from kgtool.corpus import Span, _lines, clean, collapse_whitespace
from kgtool.evidence import QuoteError, anchor, occurrences
from kgtool.linker import Lexicon, Linker
from kgtool.namespaces import KGR, XSD
from kgtool.rdfio import PARSE_FORMATS, RdfFormat, parse_bytes, serialise
from kgtool.store import new_graph
from kgtool.untrusted import count_blank_nodes

# any Unicode scalar value but the surrogates (not representable in UTF-8)
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
# what XML 1.0 can hold (RDF/XML): no C0 controls but tab, newline and carriage return, no U+FFFE/U+FFFF
XML_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"
                         + "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r"))
TRICKY = st.sampled_from(['"', "'", '"""', "\\", "\n", "\r\n", "\t", "}", "{", "<", ">", "&", "]]>", "#", "@en",
                          "^^", "_:b0", "\u00a0", "\u2028", "é", "\U0001F600", " "])
PROSE = st.lists(st.one_of(st.text(ANY_CHAR, max_size=12), TRICKY, st.sampled_from(
    ["Source: TASS", "Sorry!!", "All news", "Rosatom", " Rosatom said", ".", "\n\n"])), max_size=30).map("".join)
LANGUAGE = st.from_regex(r"[a-z]{2,8}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- the cleaner ----------------------------------------------------------------------------------------

@SETTINGS
@given(PROSE)
def test_the_cleaner_accounts_for_every_line_once_with_offsets_into_the_text(text: str) -> None:
    document = clean("950", Path("950_p.txt"), text)
    spans = sorted([p.span for p in document.kept] + [r.span for r in document.removed], key=lambda s: s.start)
    assert spans == _lines(text)  # every non-blank line is kept or removed, exactly once
    for paragraph in document.kept:
        assert paragraph.text == text[paragraph.span.start:paragraph.span.end] == paragraph.text.strip()
    kept = [collapse_whitespace(p.text) for p in document.kept]
    assert len(kept) == len(set(kept))  # a repeated paragraph is kept once
    assert document.cleaned_text == "\n\n".join(p.text for p in document.kept)


# ---- the quote verifier -------------------------------------------------------------------------------

@SETTINGS
@given(PROSE, st.data())
def test_every_quote_cut_from_a_kept_paragraph_anchors_where_it_was_cut(text: str, data: st.DataObject) -> None:
    document = clean("951", Path("951_p.txt"), text)
    assume(document.kept)
    paragraph = data.draw(st.sampled_from(document.kept))
    start = data.draw(st.integers(paragraph.span.start, paragraph.span.end - 1))
    end = data.draw(st.integers(start + 1, paragraph.span.end))
    quote = text[start:end]
    assume(quote.strip())
    found = occurrences(document, quote)
    assert found and all(" ".join(text[s.start:s.end].split()) == " ".join(quote.split()) for s in found)
    for number, span in enumerate(found, 1):
        resolved = anchor(document, quote, occurrence=number, kept_only=False)
        assert resolved.span == span and resolved.exact == text[span.start:span.end]
    lead, trail = len(quote) - len(quote.lstrip()), len(quote) - len(quote.rstrip())
    assert Span(start + lead, end - trail) in found  # the place it was cut from is among them


@SETTINGS
@given(PROSE, st.text(ANY_CHAR, min_size=1, max_size=20))
def test_a_quote_that_is_not_in_the_text_is_refused(text: str, quote: str) -> None:
    missing = quote + "\u0378"  # an unassigned code point: never in the text drawn here
    assume("\u0378" not in text and missing.strip())
    with pytest.raises(QuoteError, match="quote not found"):
        anchor(clean("952", Path("952_p.txt"), text), missing)


# ---- the linker ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def linker(built: BuildResult) -> Linker:
    return Linker(Lexicon.from_graph(built.graph))


@SETTINGS
@given(text=PROSE)
def test_the_linker_reports_mentions_where_they_are(linker: Linker, text: str) -> None:
    mentions, ambiguities = linker.link_paragraph(text)
    previous_end = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        assert 0 <= mention.start < mention.end <= len(text)
        assert text[mention.start:mention.end] == mention.surface
        assert mention.start >= previous_end  # no two mentions overlap
        previous_end = mention.end
    for ambiguity in ambiguities:
        assert text[ambiguity.start:ambiguity.end] == ambiguity.surface and len(ambiguity.candidates) > 1


@SETTINGS
@given(before=st.text(ANY_CHAR, max_size=40), after=st.text(ANY_CHAR, max_size=40))
def test_a_known_name_between_sentences_is_linked_whatever_surrounds_it(linker: Linker, before: str,
                                                                         after: str) -> None:
    text = f"{before}\n\nThe state corporation Rosatom said so.\n\n{after}"
    at = text.index("Rosatom said")
    mentions, _ = linker.link_paragraph(text)
    assert any(m.start == at and m.surface == "Rosatom" and m.entity == "rosatom" for m in mentions)


# ---- the serialisers ------------------------------------------------------------------------------------

def literals(chars: st.SearchStrategy[str]) -> st.SearchStrategy[Literal]:
    text = st.lists(st.one_of(st.text(chars, max_size=10), TRICKY), max_size=6).map("".join)
    return st.one_of(
        text.map(Literal),
        st.tuples(text, LANGUAGE).map(lambda v: Literal(v[0], lang=v[1])),
        text.map(lambda v: Literal(v, datatype=XSD.string)),
        st.integers(-(10 ** 30), 10 ** 30).map(Literal),
        st.decimals(allow_nan=False, allow_infinity=False, places=4).map(Literal),
        st.booleans().map(Literal),
        st.dates().map(Literal),
        text.map(lambda v: Literal(v, datatype=URIRef("https://example.org/datatype#opaque"))),
    )


def graph_of(values: list[Literal]) -> Graph:
    graph = new_graph()
    for i, value in enumerate(values):
        graph.add((KGR[f"e{i}"], KGR.value, value))
        graph.add((BNode(f"n{i}"), KGR.value, value))  # blank nodes, labelled by content on the way out
    return graph


def simple(graph: Graph) -> Graph:
    """The graph with "x"^^xsd:string written "x": one term in RDF 1.1, two in rdflib (its JSON-LD
    writer drops the datatype of an empty xsd:string)."""
    copy = new_graph()
    for s, p, o in graph:
        copy.add((s, p, Literal(str(o)) if isinstance(o, Literal) and o.datatype == XSD.string else o))
    return copy


def round_trip(graph: Graph, rdf_format: RdfFormat) -> Graph:
    data = serialise(graph, rdf_format)
    again = new_graph()
    parse_bytes(again, data, PARSE_FORMATS[rdf_format.suffix], base="https://example.org/base")
    return again


@SETTINGS
@pytest.mark.parametrize("rdf_format", [RdfFormat.TURTLE, RdfFormat.NTRIPLES, RdfFormat.NQUADS, RdfFormat.JSONLD])
@given(values=st.lists(literals(ANY_CHAR), max_size=6))
def test_any_literal_survives_serialise_and_parse(rdf_format: RdfFormat, values: list[Literal]) -> None:
    graph = graph_of(values)
    again = round_trip(graph, rdf_format)
    assert isomorphic(simple(graph), simple(again)), sorted(set(simple(graph)) ^ set(simple(again)))[:4]
    assert serialise(simple(again), rdf_format) == serialise(simple(graph), rdf_format)  # byte-stable as well


@SETTINGS
@given(values=st.lists(literals(XML_CHAR), max_size=6))
def test_any_xml_legal_literal_survives_rdfxml(values: list[Literal]) -> None:
    graph = graph_of(values)
    assert isomorphic(simple(graph), simple(round_trip(graph, RdfFormat.RDFXML)))


# ---- the checks on untrusted RDF never count fewer blank nodes than rdflib makes -------------------------
#
# Documents built of the tokens that fooled the Turtle pre-check's tokenizer (escapes in names and labels,
# "#" in IRIs and strings, quotes in names, long strings closed by four or five quotes, dotted labels,
# comments holding brackets) and of every construct that makes blank nodes, in the three formats with a
# counting check. rdflib parses each; the check's count must be at least rdflib's number of blank nodes.

def rdflib_blank_nodes(data: bytes, rdf_format: str) -> int:
    dataset = Dataset()
    dataset.parse(data=data, format=rdf_format)
    return len({term for quad in dataset.quads() for term in quad if isinstance(term, BNode)})


TTL_GAP = st.sampled_from([" ", "\n", "\t", " # a comment with [ ( \" ' < and \\\n", "\r\n"])
TTL_NAME = st.sampled_from(["ex:a", "ex:a\\#b", "ex:a\\'", "ex:a\\(", "ex:a\\)", "ex:a.b", "ex:a\\-",
                            ":x", "ex:", "ex:a%23", "ex:1"])
TTL_IRI = st.sampled_from(["<http://example.org/a>", "<http://example.org/a#b>", "<a b#c>", "<#>",
                           "<http://example.org/\\u0041#x>", "<a'b>", '<a"b#>'])
TTL_LABEL = st.sampled_from(["_:a", "_:b", "_:a.1", "_:a.2", "_:a\\#b", "_:a-b", "_:1"])
TTL_LITERAL = st.sampled_from([
    '"x # [ ( \\" \' < "', "'y # ] \" '", '"""a " "" [ # \n b"""', "'''c ' '' ( # '''", '"""d""""',
    '"""e"""""', "'''f''''", '"#"@en', '"1"^^ex:t', '"2"^^<http://example.org/t#x>', "1", "-2.5", "1e3",
    "true", '"\\u0023 ["', '""'])


def ttl_objects(terms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.tuples(st.one_of(TTL_NAME, TTL_IRI, st.just("a")), st.lists(terms, min_size=1, max_size=3)),
                 max_size=3).map(lambda pairs: "[ " + " ; ".join(f"{p} {', '.join(o)}" for p, o in pairs) + " ]"),
        st.lists(terms, max_size=4).map(lambda items: "( " + " ".join(items) + " )"),
        st.tuples(TTL_NAME, st.sampled_from("!^"), TTL_NAME).map("".join),
    )


TTL_OBJECT = st.recursive(st.one_of(TTL_NAME, TTL_IRI, TTL_LABEL, TTL_LITERAL), ttl_objects, max_leaves=12)
TTL_STATEMENT = st.tuples(st.one_of(TTL_NAME, TTL_IRI, TTL_LABEL, st.just("[]"), ttl_objects(TTL_OBJECT)),
                          st.lists(st.tuples(st.one_of(TTL_NAME, TTL_IRI, st.just("a")),
                                             st.lists(st.tuples(TTL_GAP, TTL_OBJECT).map("".join), min_size=1,
                                                      max_size=3)), min_size=1, max_size=3))


@SETTINGS
@given(statements=st.lists(TTL_STATEMENT, min_size=1, max_size=6), gap=TTL_GAP)
def test_the_turtle_check_counts_every_blank_node_rdflib_makes(statements: list[tuple[str, Any]], gap: str) -> None:
    text = "@prefix ex: <http://example.org/> .\n@prefix : <http://example.org/empty#> ." + gap + gap.join(
        f"{subject} " + f" ;{gap}".join(f"{p} {','.join(o)}" for p, o in pairs) + " ." for subject, pairs in statements)
    data = text.encode()
    try:
        expected = rdflib_blank_nodes(data, "turtle")
    except Exception:  # noqa: BLE001 - the odd combination rdflib rejects says nothing here
        assume(False)
        raise
    assert count_blank_nodes(data, "turtle") >= expected, text


JSON_KEY = st.sampled_from(["ex:p", "ex:q", "http://example.org/r", "list", "names", "byId", "byIndex", "id",
                            "L", "@type"])
JSON_SCALAR = st.one_of(st.sampled_from(["x", "_:a", "_:b", "ex:v", "# [ {"]), st.integers(-5, 5), st.booleans())


def json_node(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    nodes = st.dictionaries(JSON_KEY, children, max_size=3)
    return st.one_of(
        st.tuples(st.sampled_from([None, "ex:n", "_:a", "_:c"]), st.sampled_from(["@id", "id"]), nodes).map(
            lambda t: {**t[2], t[1]: t[0]} if t[0] else t[2]),
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(lambda items: {"@list": items}),
        JSON_SCALAR.map(lambda v: {"@value": v}),
        st.dictionaries(st.sampled_from(["ex:a", "_:k", "@none", "http://example.org/b"]), children, max_size=2),
    )


JSON_VALUE = st.recursive(JSON_SCALAR, json_node, max_leaves=12)
JSON_CONTEXT = st.fixed_dictionaries({"ex": st.just("http://example.org/")}, optional={
    "id": st.just("@id"), "L": st.just("@list"),
    "list": st.just({"@id": "ex:list", "@container": "@list"}),
    "names": st.just({"@id": "ex:names", "@container": "@language"}),
    "byId": st.just({"@id": "ex:byId", "@container": "@id"}),
    "byIndex": st.just({"@id": "ex:byIndex", "@container": "@index"}),
})


@SETTINGS
@given(context=JSON_CONTEXT, graph=st.lists(json_node(JSON_VALUE), min_size=1, max_size=4),
       context_last=st.booleans())
def test_the_json_ld_check_counts_every_blank_node_rdflib_makes(context: dict[str, Any], graph: list[Any],
                                                                context_last: bool) -> None:
    document = {"@graph": graph, "@context": context} if context_last else {"@context": context, "@graph": graph}
    data = json.dumps(document, indent=1).encode()
    try:
        expected = rdflib_blank_nodes(data, "json-ld")
    except Exception:  # noqa: BLE001 - a document rdflib's JSON-LD processor rejects says nothing here
        assume(False)
        raise
    assert count_blank_nodes(data, "json-ld") >= expected, data.decode()


RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_ABOUT = st.sampled_from(["", ' rdf:about="http://example.org/a"', ' rdf:nodeID="n1"', ' rdf:nodeID="n2"',
                             ' rdf:ID="i"', ' about="http://example.org/b"', ' nodeID="n3"'])


def xml_properties(nodes: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    prop = st.one_of(
        st.just('<ex:p rdf:resource="http://example.org/c"/>'), st.just('<ex:p rdf:nodeID="n1"/>'),
        st.just("<ex:p>text # [</ex:p>"), st.just('<ex:p ex:q="v"/>'), st.just('<ex:p xml:lang="en">t</ex:p>'),
        st.just('<ex:p rdf:datatype="http://example.org/t" ex:q="v">1</ex:p>'),
        nodes.map(lambda node: f"<ex:p>{node}</ex:p>"),
        st.lists(nodes, max_size=3).map(lambda ns: f'<ex:p rdf:parseType="Collection">{"".join(ns)}</ex:p>'),
        nodes.map(lambda node: f'<ex:p rdf:parseType="Literal">{node}</ex:p>'),
    )
    return st.lists(prop, max_size=3).map("".join)


def xml_node(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["rdf:Description", "ex:T"]), XML_ABOUT, xml_properties(children),
                     st.booleans()).map(
        lambda t: f'<ex:p rdf:parseType="Resource">{t[2]}</ex:p>' if t[3] and not t[1]
        else f"<{t[0]}{t[1]}>{t[2]}</{t[0]}>")


XML_NODE = st.recursive(st.sampled_from(["<rdf:Description/>", "<ex:T/>", '<ex:T rdf:nodeID="n2"/>']),
                        lambda children: xml_node(children).map(
                            lambda n: n if not n.startswith("<ex:p") else f"<rdf:Description>{n}</rdf:Description>"),
                        max_leaves=10)


@SETTINGS
@given(nodes=st.lists(XML_NODE, min_size=1, max_size=4))
def test_the_rdf_xml_check_counts_every_blank_node_rdflib_makes(nodes: list[str]) -> None:
    text = (f'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="{RDF}" xmlns:ex="http://example.org/">\n'
            + "\n".join(nodes) + "\n</rdf:RDF>\n")
    data = text.encode()
    try:
        expected = rdflib_blank_nodes(data, "xml")
    except Exception:  # noqa: BLE001 - grammar corners rdflib rejects (a repeated rdf:ID) say nothing here
        assume(False)
        raise
    assert count_blank_nodes(data, "xml") >= expected, text
