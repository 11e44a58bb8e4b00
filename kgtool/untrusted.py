"""Checks on RDF from strangers, run before any parser sees the bytes: a scan in bounded memory.

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
- Every format: rdflib's memory store takes about 1.7 kB per triple, so a file of a million blank
  nodes takes gigabytes and a minute. Refused beyond MAX_BLANK_NODES, counted as rdflib makes them:
  labels (`_:x`, rdf:nodeID, `"@id": "_:x"`), anonymous nodes (`[]`, a node element or a JSON-LD node
  object without an IRI, rdf:parseType="Resource", a path step `!`/`^`) and one per list member.
- RDF/XML whose bytes are in another encoding than UTF-8: neither parser decodes it as kgtool calls
  them. Refused with a message that says so.

The counts do not fall short of rdflib's (tests/test_hardening_properties.py compares them on documents
built of the tokens that matter); they may exceed it a little in odd documents. The Turtle scan
reads names, strings, IRIs and comments as rdflib's tokenizer does, so no escape (`ex:a\\#`) or
unusual IRI turns brackets into a "comment"; the JSON-LD scan follows the keyword aliases and
containers of inline contexts, and counts a term whose meaning it cannot be sure of as if it made
lists. Every refusal is a BadInputError (exit 3) with the line where the check stopped.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from xml.parsers import expat

from .errors import BadInputError

MAX_NESTING = 64
MAX_BLANK_NODES = 100_000
MAX_ENTITY_VALUE = 1024
# RDF/XML text and attribute values may grow by entity expansion to at most this many times the file size
MAX_EXPANSION = 10
# JSON-LD with a context after other keys of its object: the count reads at most this many contexts, and
# beyond, counts every term as if it made lists
MAX_CONTEXTS = 10_000
TURTLE_FAMILY = ("turtle", "nt", "ntriples", "nquads", "trig", "n3")

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
    count_blank_nodes(data, rdf_format, path=path, limit=MAX_BLANK_NODES)


def count_blank_nodes(data: bytes, rdf_format: str, *, path: Path | None = None, limit: int | None = None) -> int:
    """The blank nodes rdflib would make of `data` (or a few more, never fewer), after the checks of
    `check_rdf`; more than `limit` is a BadInputError at the line where the count passed it."""
    bound = limit if limit is not None else len(data) + 1  # no file makes more blank nodes than it has bytes
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        declared = _declared_encoding(data) if rdf_format == "xml" else None
        if declared is not None:
            encoding, how = declared
            raise BadInputError(f"not valid UTF-8: the file is in {encoding} ({how}), and kgtool reads RDF/XML only "
                                "in UTF-8, the one encoding its parsers (rdflib and Oxigraph, as kgtool calls them) "
                                "decode", path=path, line=line,
                                hint=f'convert it (iconv -f {encoding} -t UTF-8), declaring encoding="UTF-8"'
                                ) from None
        raise BadInputError("not valid UTF-8", path=path, line=line) from None
    if rdf_format in TURTLE_FAMILY:
        return _scan_turtle(text, path, bound, n3=rdf_format == "n3")
    if rdf_format == "xml":
        return _scan_xml(data, path, bound)
    if rdf_format == "json-ld":
        return _scan_jsonld(text, path, bound)
    return 0


_XML_DECLARATION = re.compile(rb'\s*<\?xml\s[^>]*?encoding\s*=\s*["\']([A-Za-z][A-Za-z0-9._-]{0,39})["\']')


def _declared_encoding(data: bytes) -> tuple[str, str] | None:
    """The encoding an XML file says it is in, and how it says so, when that is not UTF-8."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16", "so says its byte-order mark"
    match = _XML_DECLARATION.match(data[:200])
    if match is None or match.group(1).decode().replace("-", "").lower() == "utf8":
        return None
    return match.group(1).decode(), "so says its XML declaration"


def _too_many(limit: int, path: Path | None, line: int) -> NoReturn:
    raise BadInputError(f"more than {limit} blank nodes", path=path, line=line,
                        hint="give the nodes IRIs, or split the file")


def _too_deep(path: Path | None, line: int) -> NoReturn:
    raise BadInputError(f"nested more than {MAX_NESTING} levels deep", path=path, line=line,
                        hint="write deep structures with labelled blank nodes (_:x) or IRIs")


# ---- Turtle, TriG, N3, N-Triples, N-Quads --------------------------------------------------------------
#
# The tokens as rdflib's notation3 parser reads them (its ntriples parser reads a subset). A name is an
# optional prefix (not starting with a digit, "-" or ".") and a local part in which a backslash escapes
# the next character, as in `ex:a\#b`; it ends at one of rdflib's _notQNameChars. An IRI runs to the
# next ">" whatever lies between, as rdflib reads it (or to the end of the text, where rdflib fails). A
# long string ends at three to five quotes, a short one at the end of the line; a comment ends at the
# end of the line (N-Triples counts a lone carriage return as one). Between the tokens that matter the
# scan stays inside the regular expression engine.

_NAME_CHAR = r"""[^\t\n\r !"#$&'()*,+/;<=>?@\[\\\]^`{|}~]"""
_LOCAL = rf"{_NAME_CHAR}*+(?:\\.{_NAME_CHAR}*+)*+"
_PREFIX_CHAR = r"""[^\t\n\r !"#$&'()*,+/;<=>?@\[\\\]^`{|}~:]"""
_PREFIX_START = r"""[^\t\n\r !"#$&'()*,+/;<=>?@\[\\\]^`{|}~:0-9.\-_]"""  # "_" right before ":" begins a label
_NAME = rf"(?:(?:{_PREFIX_START}{_PREFIX_CHAR}*+|_{_PREFIX_CHAR}++)(?::{_LOCAL})?+|:{_LOCAL})"
_STRING = (r'"""[^"\\]*+(?:(?:\\.|"(?!""))[^"\\]*+)*+"{3,5}+'
           r"|'''[^'\\]*+(?:(?:\\.|'(?!''))[^'\\]*+)*+'{3,5}+"
           r'|"[^"\\\n\r]*+(?:\\.[^"\\\n\r]*+)*+"'
           r"|'[^'\\\n\r]*+(?:\\.[^'\\\n\r]*+)*+'")
_IRI = r"<[^>]*+>?+"
_N3_IRI = r"<=(?=\s)|" + _IRI  # in N3, "<=" and a space is the "is implied by" operator
_COMMENT = r"\#[^\n\r]*+"
_NUMBER = r"[+\-]?(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+\-]?[0-9]++)?+"


def _turtle_patterns(iri: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    # outside a collection: skip to the next bracket, path step or blank node label
    # (groups: 1 open, 2 close, 3 path step, 4 label)
    token = re.compile(rf"(?:\s++|{_NAME}|{_STRING}|{iri}|{_COMMENT}|\^\^|[^\[\](){{}}!^_]|_(?!:))*+"
                       rf"(?:([\[({{])|([\])}}])|([!^])|_:({_LOCAL}))", re.DOTALL)
    # inside a collection every term is a member (groups: 1 open, 2 close, 3 datatype or path step,
    # 4 label, 5 language tag, 6 any other term)
    member = re.compile(rf"(?:\s++|{_COMMENT})*+(?:([\[({{])|([\])}}])|(\^\^|[!^])|_:({_LOCAL})"
                        rf"|(@[A-Za-z0-9\-]*+)|({_STRING}|{iri}|{_NAME}|{_NUMBER}|.))", re.DOTALL)
    return token, member


_TURTLE = _turtle_patterns(_IRI)
_N3 = _turtle_patterns(_N3_IRI)


def _scan_turtle(text: str, path: Path | None, limit: int, *, n3: bool = False) -> int:
    """One blank node per "[", path step and collection member, one per label (per formula in N3,
    where rdflib scopes labels so)."""
    token, member = _N3 if n3 else _TURTLE
    brackets: list[str] = []
    formulas: list[int] = []  # N3: the label scope around each open formula
    scope = opened = anonymous = 0
    labels: set[tuple[int, str]] = set()
    joined = False  # in a collection, after "^^" or a path step: the next term is no new member
    position = 0
    while True:
        in_list = bool(brackets) and brackets[-1] == "("
        match = (member if in_list else token).match(text, position)
        if match is None:
            return anonymous + len(labels)
        position = match.end()
        kind = match.lastindex
        if kind == 3:
            anonymous += match.group(3) != "^^"
            joined = in_list
        elif in_list and kind != 2 and kind != 5:
            anonymous += not joined
            joined = False
        if kind == 1:
            joined = False
            bracket = match.group(1)
            brackets.append(bracket)
            if len(brackets) > MAX_NESTING:
                _too_deep(path, line_at(text, match.start(1)))
            anonymous += bracket == "["
            if n3 and bracket == "{":
                formulas.append(scope)
                opened += 1
                scope = opened
        elif kind == 2:
            joined = False
            if brackets and brackets.pop() == "{" and formulas:
                scope = formulas.pop()
        elif kind == 4:
            label = match.group(4)
            labels.add((scope, label[:-1] if label.endswith(".") else label))  # rdflib leaves a final "." out
        if anonymous + len(labels) > limit:
            _too_many(limit, path, line_at(text, match.start(kind or 0)))


# ---- RDF/XML -------------------------------------------------------------------------------------------

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns# "  # expat's "namespace local-name", separated by a space
_XML_NS = "http://www.w3.org/XML/1998/namespace"
# what the child elements are, following the RDF/XML grammar (and rdflib: unqualified about, ID, resource and
# parseType are the rdf: ones)
_NODES, _PROPERTIES, _LITERAL, _COLLECTION = range(4)
_RDF_RDF, _RDF_NODE_ID, _RDF_PARSE_TYPE, _RDF_DATATYPE = (_RDF + name for name in ("RDF", "nodeID", "parseType",
                                                                                  "datatype"))
_NAMING = frozenset({_RDF + "about", "about", _RDF + "ID", "ID"})
_RESOURCE = frozenset({_RDF + "resource", "resource"})
_NOT_PROPERTIES = frozenset({_RDF + "ID", "ID"})


def _scan_xml(data: bytes, path: Path | None, limit: int) -> int:
    """One blank node per node element without rdf:about or rdf:ID, per rdf:parseType="Resource", per
    empty property element with property attributes and per collection member; one per rdf:nodeID."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    allowed = MAX_EXPANSION * len(data) + (1 << 20)
    expanded = anonymous = 0
    labels: set[str] = set()
    children: list[int] = []

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

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal anonymous
        if attributes:
            grow(sum(len(value) for value in attributes.values()))
        within = children[-1] if children else None
        if within == _LITERAL:
            children.append(_LITERAL)
            return
        if within == _PROPERTIES:  # a property element
            node_id = attributes.get(_RDF_NODE_ID)
            parse_type = attributes.get(_RDF_PARSE_TYPE, attributes.get("parseType"))
            if not attributes or not _RESOURCE.isdisjoint(attributes):
                children.append(_NODES)
            elif node_id is not None:
                labels.add(node_id)
                children.append(_NODES)
            elif parse_type == "Resource":
                anonymous += 1
                children.append(_PROPERTIES)
            elif parse_type == "Collection":
                children.append(_COLLECTION)
            elif parse_type is not None:
                children.append(_LITERAL)
            else:
                anonymous += _RDF_DATATYPE not in attributes and any(
                    not (key.startswith(_XML_NS) or key[:3].lower() == "xml" or key in _NOT_PROPERTIES)
                    for key in attributes)
                children.append(_NODES)
        elif within is None and name == _RDF_RDF:
            children.append(_NODES)
        else:  # a node element
            anonymous += within == _COLLECTION
            if _NAMING.isdisjoint(attributes):
                node_id = attributes.get(_RDF_NODE_ID)
                if node_id is None:
                    anonymous += 1
                else:
                    labels.add(node_id)
            children.append(_PROPERTIES)
        if anonymous + len(labels) > limit:
            _too_many(limit, path, parser.CurrentLineNumber)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    parser.CharacterDataHandler = lambda text: grow(len(text))
    parser.StartNamespaceDeclHandler = lambda prefix, uri: grow(len(uri or ""))
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: children.pop()
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise BadInputError(f"malformed RDF/XML: {expat.ErrorString(error.code)}", path=path, line=error.lineno,
                            hint="fix the syntax at that line and run again") from None
    return anonymous + len(labels)


# ---- JSON-LD -------------------------------------------------------------------------------------------

_JSON_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_JSON_SCALAR = r"-?[0-9][0-9.eE+\-]*+|true|false|null"
# groups: 1 a key (2 and its value, a string, or 3 another scalar), 4 a string, 5 "{" or "[", 6 "}" or "]",
# 7 another scalar
_JSON_TOKEN = re.compile(rf"({_JSON_STRING})\s*+:\s*+(?:({_JSON_STRING})|({_JSON_SCALAR}))?+|({_JSON_STRING})"
                         rf"|([{{\[])|([}}\]])|({_JSON_SCALAR})", re.DOTALL)

# What a value makes, by the key it stands under: node objects (anonymous unless they have an @id), list
# members, an @id or @type, nothing countable (@value, @json literals), a context, the properties of the
# node around (@reverse, @nest), named graphs (one more blank node each: the graph's name), node objects
# named by an @id map's key, and maps (@container @id, @index or @type, @language) of those values.
(_NODE, _LIST, _ID, _TYPE, _SKIP, _CONTEXT, _PROPS, _GRAPH, _NAMED,
 _ID_MAP, _INDEX_MAP, _GRAPH_MAP, _LANGUAGE_MAP) = range(13)
_MAP_VALUES = {_ID_MAP: _NAMED, _INDEX_MAP: _NODE, _GRAPH_MAP: _GRAPH, _LANGUAGE_MAP: _SKIP}
_NO_NODE = frozenset({"@value", "@list", "@set"})  # an object with one of these keys is no node
_KEYWORDS = {"@id": _ID, "@type": _TYPE, "@list": _LIST, "@set": _NODE, "@graph": _NODE, "@included": _NODE,
             "@reverse": _PROPS, "@nest": _PROPS}


class _Definitions(NamedTuple):
    """The active context, as far as counting needs it: term -> (keyword it aliases, or None; what its values
    make). `unsure`: a context was not read (remote, @propagate, a scoped null, too many), so every term
    counts as if it made lists and no alias is trusted."""

    terms: dict[str, tuple[str | None, int]]
    unsure: bool


_NO_TERMS = _Definitions({}, False)
_UNSURE = _Definitions({}, True)
_WORST = (None, _LIST)
_PLAIN = (None, _NODE)


class _Frame:
    """An open JSON object or array. `slot`: what the value of the current key (an object) or each item (an
    array) makes."""

    __slots__ = ("array", "kind", "slot", "definitions", "named", "special", "keyed", "counting", "start",
                 "owner")

    def __init__(self, array: bool, kind: int, slot: int, definitions: _Definitions, start: int) -> None:
        self.array = array
        self.kind = kind  # objects: _NODE, _PROPS, a map or _SKIP; arrays: _NODE or _SKIP
        self.slot = slot
        self.definitions = definitions
        self.start = start
        self.named = False  # a node object with an @id (an IRI, or a label counted as such)
        self.special = False  # a value, list or set object: no node
        self.keyed = False  # an object with a key read
        self.counting = False  # an array whose items are list members
        self.owner: _Frame | None = None  # the object whose @context this value is


class _LateContext(Exception):
    """An @context after other keys of its object: the count starts again, knowing where every context is."""


def _scan_jsonld(text: str, path: Path | None, limit: int) -> int:
    """One blank node per node object without an IRI, per list member and per named graph without an IRI;
    one per blank node label. A context applies to its whole object: one written after other keys makes
    the scan look for all contexts first and count again."""
    try:
        count = _count_jsonld(text, path, limit, None)
    except _LateContext:
        count = _count_jsonld(text, path, limit, _jsonld_contexts(text, path))
    _check_jsonld_contexts(text, path)
    return count


def _count_jsonld(text: str, path: Path | None, limit: int,
                  contexts: dict[int, tuple[int, int]] | bool | None) -> int:
    """`contexts`: None to read each context where it stands (a late one raises _LateContext), or where
    each object's context is (False: too many to read, every term counts at its worst)."""
    anonymous = 0
    labels: set[str] = set()
    root = _Frame(True, _NODE, _NODE, _UNSURE if contexts is False else _NO_TERMS, 0)
    stack = [root]
    for match in _JSON_TOKEN.finditer(text):
        kind = match.lastindex or 0
        top = stack[-1]
        if kind <= 3:  # a key, and its value if that is a string or another scalar
            if not top.array:
                quoted = match.group(1)
                key = quoted[1:-1]
                if top.kind != _NODE or "\\" in quoted or key == "@context":
                    top.slot = _key_slot(top, quoted, contexts is None)
                else:  # _key_slot's common case, in short
                    keyword, top.slot = (key, _SKIP) if key[:1] == "@" else _WORST if top.definitions.unsure \
                        else top.definitions.terms.get(key, _PLAIN)
                    if keyword is not None:
                        top.slot = _KEYWORDS.get(keyword, _SKIP)
                        top.special = top.special or keyword in _NO_NODE
                top.keyed = True
            if kind == 1:
                continue
            value = match.group(kind)
            kind = 4 if kind == 2 else 7
        else:
            value = match.group(kind)
        slot = top.slot
        if kind == 6:
            if len(stack) > 1:
                done = stack.pop()
                if done.kind == _NODE and not done.array:
                    anonymous += not done.named and not done.special
                if done.owner is not None:  # the end of a context's value: it applies to its object
                    done.owner.definitions = _read_context(done.owner.definitions, text[done.start:match.end()])
            continue
        if top.counting or (slot == _LIST and not top.array and value != "["):
            anonymous += 1  # a list member (an array under @list is the list itself)
        if kind == 5:
            start = match.start()
            if value == "{":
                definitions = top.definitions
                if isinstance(contexts, dict) and start in contexts:
                    context_start, context_end = contexts[start]
                    definitions = _read_context(definitions, text[context_start:context_end])
                frame = _object_frame(slot, definitions, start)
                anonymous += slot == _GRAPH
            else:
                items = _NODE if slot == _NAMED or slot in _MAP_VALUES else slot  # rdflib's reading, not a map
                frame = _Frame(True, _SKIP if slot in (_SKIP, _CONTEXT) else _NODE, items, top.definitions, start)
                frame.counting = slot == _LIST
            if slot == _CONTEXT:
                frame.kind = _SKIP
                frame.slot = _SKIP
                frame.owner = top
            stack.append(frame)
            if len(stack) > MAX_NESTING + 1:
                _too_deep(path, line_at(text, start))
        elif slot == _CONTEXT:  # a context given as a string (refused below) or null
            top.definitions = _read_context(top.definitions, value)
        elif kind == 4 and slot != _SKIP:
            if value[1:3] == "_:" or "\\" in value[:14]:
                label = _json_string(value)
                if label.startswith("_:"):
                    labels.add(label)
            if slot == _ID and not top.array:
                top.named = True  # by an IRI, or by the label just counted
        if anonymous + len(labels) > limit:
            if contexts is None and (text.find("@context", match.end()) >= 0 or text.find("\\u", match.end()) >= 0):
                raise _LateContext  # a context further on may apply to what was counted: count knowing it
            _too_many(limit, path, line_at(text, match.start()))
    return anonymous + len(labels)


def _json_string(quoted: str) -> str:
    """The value of a JSON string token (its text between the quotes if an escape in it is malformed: the
    parse of the whole document reports that)."""
    if "\\" not in quoted:
        return quoted[1:-1]
    try:
        value = json.loads(quoted)
    except ValueError:
        return quoted[1:-1]
    return value if isinstance(value, str) else quoted[1:-1]


def _object_frame(slot: int, definitions: _Definitions, start: int) -> _Frame:
    if slot in (_NODE, _LIST, _GRAPH, _NAMED, _ID, _TYPE):  # rdflib makes a node of an object under @type
        frame = _Frame(False, _NODE, _SKIP, definitions, start)
        frame.named = slot == _NAMED
        return frame
    if slot == _PROPS or slot in _MAP_VALUES:
        return _Frame(False, slot, _SKIP, definitions, start)
    return _Frame(False, _SKIP, _SKIP, definitions, start)


def _key_slot(frame: _Frame, quoted: str, inline: bool) -> int:
    """What the value of this key makes, in this object (and notes a value, list or set object).
    `inline`: a context is read where it stands, so one after other keys raises _LateContext."""
    kind = frame.kind
    if kind == _SKIP:
        return _SKIP
    key = _json_string(quoted)
    if kind in _MAP_VALUES:
        values = _MAP_VALUES[kind]
        if values == _NAMED and (key.startswith("_:") or key == "@none"
                                 or frame.definitions.terms.get(key, _WORST)[0] == "@none"):
            return _NODE  # a blank node: the node object under it counts as one
        return values
    if key == "@context":
        if not inline:
            return _SKIP  # read when the object was opened
        if frame.keyed:
            raise _LateContext
        return _CONTEXT
    keyword: str | None = key if key.startswith("@") else None
    if keyword is None:
        if frame.definitions.unsure:
            return _LIST
        keyword, slot = frame.definitions.terms.get(key, (None, _NODE))
        if keyword is None:
            return slot
    if keyword in _NO_NODE:
        frame.special = True
    return _KEYWORDS.get(keyword, _SKIP)


def _read_context(definitions: _Definitions, source: str) -> _Definitions:
    try:
        context = json.loads(source)
    except (ValueError, RecursionError):
        return _UNSURE  # the parse of the whole document reports it
    return _apply_context(definitions, context)


def _apply_context(definitions: _Definitions, context: Any) -> _Definitions:
    """The active context after an embedded `@context` value (JSON-LD 1.1, as far as counting needs it)."""
    for item in context if isinstance(context, list) else [context]:
        if item is None:
            definitions = _NO_TERMS
            continue
        if not isinstance(item, dict) or "@propagate" in item or "@import" in item:
            return _UNSURE
        terms = dict(definitions.terms)
        scoped: set[str] = set()
        for name, definition in item.items():
            if name.startswith("@"):
                continue
            term = _term(definition, scoped)
            if term is None:
                return _UNSURE
            terms[name] = term
        for name in scoped:  # redefined in a scoped context, which applies only in places: the worst of both
            terms[name] = _WORST
        definitions = _Definitions(terms, definitions.unsure)
    return definitions


def _term(definition: Any, scoped: set[str]) -> tuple[str | None, int] | None:
    """(keyword aliased, what values make) for a term definition; None if it has a scoped context that
    cannot be read. Adds the terms its scoped context defines to `scoped`."""
    if isinstance(definition, str):
        return (definition, _NODE) if definition.startswith("@") else (None, _NODE)
    if not isinstance(definition, dict):
        return (None, _NODE)
    if "@context" in definition:
        names = _scoped_terms(definition["@context"])
        if names is None:
            return None
        scoped |= names
    iri = definition.get("@id")
    if isinstance(iri, str) and iri.startswith("@"):
        return (iri, _NODE)
    if definition.get("@type") == "@json":
        return (None, _SKIP)
    container = definition.get("@container")
    containers = set(container) if isinstance(container, list) else {container}
    if "@list" in containers:
        return _WORST
    if "@graph" in containers:
        return (None, _GRAPH_MAP if containers & {"@id", "@index"} else _GRAPH)
    if "@language" in containers:
        return (None, _LANGUAGE_MAP)
    if "@id" in containers:
        return (None, _ID_MAP)
    if containers & {"@index", "@type"}:
        return (None, _INDEX_MAP)
    return (None, _NODE)


def _scoped_terms(context: Any) -> set[str] | None:
    """Every term a scoped context defines (with the scoped contexts within), or None if it resets or
    imports a context, or stops propagation."""
    names: set[str] = set()
    for item in context if isinstance(context, list) else [context]:
        if not isinstance(item, dict) or "@propagate" in item or "@import" in item:
            return None
        for name, definition in item.items():
            if name.startswith("@"):
                continue
            names.add(name)
            if isinstance(definition, dict) and "@context" in definition:
                inner = _scoped_terms(definition["@context"])
                if inner is None:
                    return None
                names |= inner
    return names


def _jsonld_contexts(text: str, path: Path | None) -> dict[int, tuple[int, int]] | bool:
    """Where each object with an `@context` starts -> where its context's value is (False beyond
    MAX_CONTEXTS)."""
    found: dict[int, tuple[int, int]] = {}
    stack: list[tuple[int, int]] = []  # (where the object or array starts, the object whose context it is or -1)
    owner = -1  # the object whose context is the next value
    for match in _JSON_TOKEN.finditer(text):
        kind = match.lastindex or 0
        if kind <= 3:
            if stack and text[stack[-1][0]] == "{" and _json_string(match.group(1)) == "@context":
                owner = stack[-1][0]
                if kind != 1:  # the context is a string (refused later) or another scalar
                    found[owner] = (match.start(kind), match.end())
                    owner = -1
            continue
        if kind == 5:
            stack.append((match.start(), owner))
            if len(stack) > MAX_NESTING:
                _too_deep(path, line_at(text, match.start()))
        elif kind == 6:
            if stack:
                start, whose = stack.pop()
                if whose >= 0:
                    found[whose] = (start, match.end())
        elif owner >= 0:
            found[owner] = (match.start(), match.end())
        owner = -1
        if len(found) > MAX_CONTEXTS:
            return False
    return found


def _check_jsonld_contexts(text: str, path: Path | None) -> None:
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
