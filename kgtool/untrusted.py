"""Checks on RDF from strangers, run before any parser sees the bytes: one pass, bounded memory.

What the parsers would otherwise do with a hostile file:

- RDF/XML: rdflib's and pyoxigraph's parsers expand DTD entities. Nested entities ("billion laughs")
  become gigabytes in pyoxigraph and minutes of CPU in rdflib; external entities and DTDs name
  files and URLs. Refused: any external DTD or entity, parameter entities, entities that refer to
  other entities, and documents whose text grows far beyond their size by expansion. Short
  internal entities (Protégé's `<!ENTITY owl "http://www.w3.org/2002/07/owl#">`) are kept.
- JSON-LD: rdflib fetches a `@context` (or `@import`) given by IRI, over HTTP or from a local
  file. Refused: every context that is not written inline.
- Turtle, TriG, N3, JSON-LD: rdflib's parsers recurse once per nesting level, and fail with a
  RecursionError (no line) a few hundred levels down. Refused beyond MAX_NESTING levels.
- Turtle and the N-Triples family: rdflib's memory store takes about 1.7 kB per triple, so a file of
  a million blank nodes takes gigabytes and a minute. Refused beyond MAX_BLANK_NODES.

Every refusal is a BadInputError (exit 3) with the line where the check stopped.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn
from xml.parsers import expat

from .errors import BadInputError

MAX_NESTING = 64
MAX_BLANK_NODES = 100_000
MAX_ENTITY_VALUE = 1024
# RDF/XML text and attribute values may grow by entity expansion to at most this many times the file size
MAX_EXPANSION = 10
TURTLE_FAMILY = ("turtle", "nt", "ntriples", "nquads", "trig", "n3")

_TURTLE_TOKEN = re.compile(r'''
    "{3}(?:[^"\\]|\\.|"(?!""))*+"{3}
  | '{3}(?:[^'\\]|\\.|'(?!''))*+'{3}
  | "(?:[^"\\\n]|\\.)*+"
  | '(?:[^'\\\n]|\\.)*+'
  | <[^<>"{}|^`\\\x00-\x20]*+>
  | \#[^\n]*+
  | _:[^\s.;,()\[\]{}<>"'#]++
  | [\[\](){}]
''', re.VERBOSE | re.DOTALL)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]', re.DOTALL)
_SPARQL_LEXEME = re.compile(r'''
    "{3}(?:[^"\\]|\\.|"(?!""))*+"{3}
  | '{3}(?:[^'\\]|\\.|'(?!''))*+'{3}
  | "(?:[^"\\\n]|\\.)*+"
  | '(?:[^'\\\n]|\\.)*+'
  | <[^<>"{}|^`\\\x00-\x20]*+>
  | \#[^\n]*+
  | [?$]\w*+
  | [\w.-]*:[\w.%:-]*+
  | \w++
''', re.VERBOSE | re.DOTALL)


def line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def keyword_lines(sparql: str, keyword: str) -> list[int]:
    """The lines where `keyword` stands in the SPARQL text as a keyword, not inside a comment, a string,
    an IRI, a variable name or a prefixed name (case-insensitive, as SPARQL keywords are)."""
    wanted = keyword.upper()
    return [line_at(sparql, match.start()) for match in _SPARQL_LEXEME.finditer(sparql)
            if match.group().upper() == wanted]


def first_keyword(sparql: str, keywords: Iterable[str]) -> str | None:
    """The first of `keywords` (upper-cased) that stands in the SPARQL text as a keyword, as `keyword_lines`
    reads it, or None."""
    wanted = {keyword.upper() for keyword in keywords}
    for match in _SPARQL_LEXEME.finditer(sparql):
        if match.group().upper() in wanted:
            return match.group().upper()
    return None


def check_rdf(data: bytes, rdf_format: str, *, path: Path | None = None) -> None:
    """Refuse what no RDF file kgtool reads needs and a hostile one uses (see the module's docstring).

    `rdf_format` is rdflib's name for the format ("turtle", "nt", "xml", "json-ld", ...)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError("not valid UTF-8", path=path, line=data[:error.start].count(b"\n") + 1) from None
    if rdf_format in TURTLE_FAMILY:
        _check_turtle(text, path)
    elif rdf_format == "xml":
        _check_xml(data, path)
    elif rdf_format == "json-ld":
        _check_jsonld(text, path)


def _check_turtle(text: str, path: Path | None) -> None:
    depth = anonymous = 0
    labels: set[str] = set()
    for match in _TURTLE_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "(", "{"):
            depth += 1
            anonymous += token != "{"
            if depth > MAX_NESTING:
                raise BadInputError(f"nested more than {MAX_NESTING} levels deep", path=path,
                                    line=line_at(text, match.start()),
                                    hint="write deep structures with labelled blank nodes (_:x) or IRIs")
        elif token in ("]", ")", "}"):
            depth = max(0, depth - 1)
        elif token.startswith("_:"):
            labels.add(token)
        else:
            continue
        if anonymous + len(labels) > MAX_BLANK_NODES:
            raise BadInputError(f"more than {MAX_BLANK_NODES} blank nodes", path=path,
                                line=line_at(text, match.start()),
                                hint="give the nodes IRIs, or split the file")


def _check_jsonld(text: str, path: Path | None) -> None:
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                raise BadInputError(f"nested more than {MAX_NESTING} levels deep", path=path,
                                    line=line_at(text, match.start()))
        elif token in ("]", "}"):
            depth = max(0, depth - 1)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInputError(f"malformed JSON-LD: {error.msg}", path=path, line=error.lineno,
                            hint="fix the syntax at that line and run again") from None
    for reference in _context_references(document):
        found = text.find(json.dumps(reference)[1:-1])
        raise BadInputError(f"the JSON-LD refers to a context by IRI ({reference[:200]!r}); kgtool does not "
                            "fetch contexts", path=path, line=line_at(text, found) if found >= 0 else None,
                            hint="write the context inline in the document (kgtool's own files embed theirs)")


def _context_references(node: Any) -> list[str]:
    """Every context given by IRI (`"@context": "..."`, in a list, or `"@import"`) anywhere in the document."""
    found: list[str] = []
    if isinstance(node, list):
        for item in node:
            found += _context_references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                for context in value if isinstance(value, list) else [value]:
                    if isinstance(context, str):
                        found.append(context)
            if key == "@import" and isinstance(value, str):
                found.append(value)
            found += _context_references(value)
    return found


def _check_xml(data: bytes, path: Path | None) -> None:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    allowed = MAX_EXPANSION * len(data) + (1 << 20)
    expanded = 0

    def refuse(message: str, hint: str | None = None) -> NoReturn:
        raise BadInputError(message, path=path, line=parser.CurrentLineNumber,
                            hint=hint or "remove the DOCTYPE: RDF/XML needs no DTD")

    def doctype(name: str, system_id: str | None, public_id: str | None, internal: int) -> None:
        if system_id or public_id:
            refuse(f"an external DTD ({system_id or public_id!s}) is refused: kgtool reads no other file")

    def entity(name: str, parameter: int, value: str | None, base: str | None, system_id: str | None,
               public_id: str | None, notation: str | None) -> None:
        if parameter:
            refuse(f"the parameter entity %{name}; is refused")
        if value is None:
            refuse(f"the external entity &{name}; ({system_id or public_id!s}) is refused: kgtool reads no other file")
        if "&" in value or "%" in value or len(value) > MAX_ENTITY_VALUE:
            refuse(f"the entity &{name}; refers to other entities or is longer than {MAX_ENTITY_VALUE} characters: "
                   "refused (entity expansion)")

    def grow(amount: int) -> None:
        nonlocal expanded
        expanded += amount
        if expanded > allowed:
            refuse(f"entity expansion makes the text more than {MAX_EXPANSION} times the file's size: refused")

    def external(context: str, base: str | None, system_id: str | None, public_id: str | None) -> int:
        refuse(f"the external entity {system_id or public_id!s} is refused: kgtool reads no other file")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    parser.CharacterDataHandler = lambda text: grow(len(text))
    parser.StartElementHandler = lambda name, attributes: grow(sum(len(v) for v in attributes.values()))
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise BadInputError(f"malformed RDF/XML: {expat.ErrorString(error.code)}", path=path, line=error.lineno,
                            hint="fix the syntax at that line and run again") from None
