"""Load the curated YAML in data/ into model values, with file and line for every item.

This checks the form of each item (known keys, required fields, slugs, dates, numbers); whether
quotes are found and names resolve is checked when the graph is built.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInputError
from .model import (Claim, CuratedData, DocumentMeta, Element, Entity, Origin, QuantityClaim, QuoteRef,
                    RelationClaim, Waiver)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DOC_ID = re.compile(r"^\d{3}$")
DATE_FORMS = (
    re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    re.compile(r"^\d{4}-\d{2}$"),
    re.compile(r"^\d{4}$"),
    re.compile(r"^--\d{2}-\d{2}$"),
    re.compile(r"^--\d{2}$"),
)
LINE = "__line__"
METADATA_PROPERTIES = {"publisher": "dcterms:publisher", "author": "dcterms:creator",
                       "cites": "kg:citesSource", "date": "dcterms:date"}


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line and keeps dates and numbers as written."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay strings ("2024-03" must not become anything else); so do timestamps.
def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML file; syntax errors become BadInputError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", path=path) from None
    except UnicodeDecodeError:
        raise BadInputError("not valid UTF-8", path=path) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise BadInputError(f"malformed YAML: {error.problem or error.context}", path=path,
                            line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise BadInputError(f"malformed YAML: {error}", path=path) from None
    if not isinstance(data, dict):
        raise BadInputError("expected a mapping at the top of the file", path=path, line=1)
    return data


class _Item:
    """One mapping from a curated file, with checked access to its fields."""

    def __init__(self, data: Any, path: Path, what: str, parent_line: int = 0) -> None:
        if not isinstance(data, dict):
            raise BadInputError(f"{what}: expected a mapping, got {type(data).__name__}", path=path,
                                line=parent_line or None)
        self.data = data
        self.path = path
        self.what = what
        self.line: int = data.get(LINE, parent_line)

    @property
    def origin(self) -> Origin:
        return Origin(self.path, self.line)

    def fail(self, message: str, hint: str | None = None) -> BadInputError:
        return BadInputError(f"{self.what}: {message}", path=self.path, line=self.line, hint=hint)

    def check_keys(self, required: set[str], optional: set[str]) -> None:
        keys = set(self.data) - {LINE}
        unknown = keys - required - optional
        if unknown:
            raise self.fail(f"unknown field(s) {', '.join(sorted(unknown))}",
                            hint=f"allowed: {', '.join(sorted(required | optional))}")
        missing = required - keys
        if missing:
            raise self.fail(f"missing field(s) {', '.join(sorted(missing))}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing field {key!r}")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(f"{key!r} must be text, got {type(value).__name__}")
        return str(value)

    def slug(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not SLUG.match(value):
            raise self.fail(f"{key!r} must be a lower-case slug like 'solikamsk-magnesium-plant', got {value!r}")
        return value

    def date(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not any(form.match(value) for form in DATE_FORMS):
            raise self.fail(f"{key!r} must be a date as YYYY-MM-DD, YYYY-MM, YYYY, --MM-DD or --MM, got {value!r}",
                            hint="quote it in YAML, e.g. \"2024\"")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key!r} must be a list of text")
        return tuple(value)

    def items(self, key: str, what: str) -> list["_Item"]:
        value = self.data.get(key) or []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(f"{key!r} must be a list")
        return [_Item(v, self.path, what, self.line) for v in value]


def _quote(item: _Item, doc_id: str) -> QuoteRef:
    quote = item.text("quote", required=True)
    occurrence = item.data.get("occurrence")
    if occurrence is not None and (isinstance(occurrence, bool) or not isinstance(occurrence, int)):
        raise item.fail("'occurrence' must be a whole number from 1")
    return QuoteRef(doc_id=doc_id, quote=quote or "", origin=item.origin, occurrence=occurrence,
                    prefix=item.text("prefix"))


def _evidence(item: _Item) -> QuoteRef:
    item.check_keys({"doc", "quote"}, {"occurrence", "prefix"})
    doc_id = item.text("doc", required=True) or ""
    if not DOC_ID.match(doc_id):
        raise item.fail(f"'doc' must be a three-digit document id such as \"002\", got {doc_id!r}",
                        hint="quote it in YAML so it stays text")
    return _quote(item, doc_id)


def _entity(item: _Item) -> Entity:
    item.check_keys({"id", "type", "label", "ev"}, {"alt", "former", "background", "note"})
    types = item.strings("type")
    if not types:
        raise item.fail("'type' must name at least one class")
    return Entity(
        id=item.slug("id") or "",
        types=types,
        label=item.text("label", required=True) or "",
        alt=item.strings("alt"),
        former=item.strings("former"),
        evidence=tuple(_evidence(e) for e in item.items("ev", "evidence")),
        background=item.text("background"),
        note=item.text("note"),
        origin=item.origin,
    )


def _number(item: _Item, key: str) -> Decimal:
    raw = item.data.get(key)
    if isinstance(raw, bool) or raw is None:
        raise item.fail(f"{key!r} must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise item.fail(f"{key!r} must be a number, got {raw!r}") from None
    if not value.is_finite():
        raise item.fail(f"{key!r} must be a finite number")
    return value


QUANTITY_REQUIRED = {"subject", "measure", "value", "unit", "as_stated"}
QUANTITY_OPTIONAL = {"qualifier", "commodity", "as_of", "attributed_to", "scope", "hedge", "classification",
                     "time_note"}
RELATION_REQUIRED = {"subject", "property"}
RELATION_OPTIONAL = {"object", "value", "start", "end", "as_of", "attributed_to", "as_stated", "time_note"}


def _claim(item: _Item, doc_id: str, quote: QuoteRef | None, reference: str | None = None) -> Claim:
    item.check_keys({"id"}, {"quantity", "relation"})
    claim_id = item.slug("id") or ""
    if ("quantity" in item.data) == ("relation" in item.data):
        raise item.fail("a claim has exactly one of 'quantity' or 'relation'")
    if "quantity" in item.data:
        body = _Item(item.data["quantity"], item.path, f"claim {claim_id}", item.line)
        body.check_keys(QUANTITY_REQUIRED, QUANTITY_OPTIONAL)
        return QuantityClaim(
            id=claim_id, doc_id=doc_id, quote=quote, reference=reference, origin=item.origin,
            subject=body.slug("subject") or "", measure=body.slug("measure") or "",
            value=_number(body, "value"), unit=body.slug("unit") or "",
            as_stated=body.text("as_stated", required=True) or "",
            qualifier=body.slug("qualifier", required=False) or "exactly",
            commodity=body.slug("commodity", required=False), as_of=body.date("as_of"),
            attributed_to=body.slug("attributed_to", required=False), scope=body.text("scope"),
            hedge=body.text("hedge"), classification=body.slug("classification", required=False),
            time_note=body.text("time_note"),
        )
    body = _Item(item.data["relation"], item.path, f"claim {claim_id}", item.line)
    body.check_keys(RELATION_REQUIRED, RELATION_OPTIONAL)
    if ("object" in body.data) == ("value" in body.data):
        raise body.fail("a relation has exactly one of 'object' (an entity id) or 'value' (a literal)")
    prop = body.text("property", required=True) or ""
    if not re.match(r"^([a-z]+:)?[A-Za-z][A-Za-z0-9]*$", prop):
        raise body.fail(f"'property' must be a kg: local name such as controlledBy, got {prop!r}")
    return RelationClaim(
        id=claim_id, doc_id=doc_id, quote=quote, reference=reference, origin=item.origin,
        subject=body.slug("subject") or "", property=prop,
        object=body.slug("object", required=False), value=body.text("value"),
        start=body.date("start"), end=body.date("end"), as_of=body.date("as_of"),
        attributed_to=body.slug("attributed_to", required=False),
        as_stated=body.text("as_stated"), time_note=body.text("time_note"),
    )


def _facts_file(path: Path) -> tuple[list[Entity], list[Claim], list[Waiver]]:
    top = _Item(read_yaml(path), path, "facts file", 1)
    top.check_keys({"document"}, {"facts", "waivers", "entities"})
    doc_id = top.text("document", required=True) or ""
    if not DOC_ID.match(doc_id) or not path.stem == doc_id:
        raise top.fail(f"'document' must be the three-digit id that names the file ({path.stem}), got {doc_id!r}")
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for fact in top.items("facts", "fact"):
        fact.check_keys({"quote", "claims"}, {"occurrence", "prefix"})
        quote = _quote(fact, doc_id)
        for claim_item in fact.items("claims", "claim"):
            claim = _claim(claim_item, doc_id, quote)
            if claim.id in seen:
                raise claim_item.fail(f"claim id {claim.id!r} is used twice in this file (first at line {seen[claim.id]})")
            seen[claim.id] = claim_item.line
            claims.append(claim)
    waivers = []
    for item in top.items("waivers", "waiver"):
        item.check_keys({"quote", "reason"}, {"occurrence", "prefix"})
        waivers.append(Waiver(doc_id, _quote(item, doc_id), item.text("reason", required=True) or ""))
    entities = [_entity(e) for e in top.items("entities", "entity")]
    return entities, claims, waivers


def _documents(path: Path) -> tuple[list[DocumentMeta], list[Claim]]:
    top = _Item(read_yaml(path), path, "documents file", 1)
    top.check_keys({"documents"}, set())
    metas: list[DocumentMeta] = []
    claims: list[Claim] = []
    for item in top.items("documents", "document"):
        item.check_keys({"id", "language"}, {"title", *METADATA_PROPERTIES})
        doc_id = item.text("id", required=True) or ""
        if not DOC_ID.match(doc_id):
            raise item.fail(f"'id' must be a three-digit document id, got {doc_id!r}")
        metas.append(DocumentMeta(doc_id, item.text("title"), item.text("language", required=True) or "",
                                  item.origin))
        for key, prop in METADATA_PROPERTIES.items():
            for field_item in item.items(key, f"document {doc_id} {key}"):
                field_item.check_keys({"quote"}, {"entity", "value", "occurrence", "prefix"})
                quote = _quote(field_item, doc_id)
                target = field_item.slug("entity", required=False)
                value = field_item.date("value") if key == "date" else field_item.text("value")
                if (target is None) == (value is None):
                    raise field_item.fail("give exactly one of 'entity' or 'value'")
                claims.append(RelationClaim(
                    id=f"meta-{key}" + (f"-{target}" if key == "cites" else ""), doc_id=doc_id, quote=quote,
                    subject="", property=prop, object=target, value=value, metadata=True, origin=field_item.origin))
    return metas, claims


def _elements(path: Path) -> tuple[str, list[Element]]:
    top = _Item(read_yaml(path), path, "elements file", 1)
    top.check_keys({"source", "elements"}, set())
    elements = []
    for item in top.items("elements", "element"):
        item.check_keys({"id", "label", "symbol", "z"}, {"rare_earth", "lanthanide", "alt"})
        z = item.data["z"]
        if isinstance(z, bool) or not isinstance(z, int) or z < 1:
            raise item.fail("'z' (atomic number) must be a positive whole number")
        elements.append(Element(
            id=item.slug("id") or "", label=item.text("label", required=True) or "",
            symbol=item.text("symbol", required=True) or "", atomic_number=z,
            rare_earth=bool(item.data.get("rare_earth", False)), lanthanide=bool(item.data.get("lanthanide", False)),
            alt=item.strings("alt"), origin=item.origin))
    return top.text("source", required=True) or "", elements


def _background(path: Path) -> list[Claim]:
    """Background claims: each group names the reference work it comes from; no document, no quote."""
    if not path.exists():
        return []
    top = _Item(read_yaml(path), path, "background file", 1)
    top.check_keys({"facts"}, set())
    claims: list[Claim] = []
    seen: set[str] = set()
    for group in top.items("facts", "background fact"):
        group.check_keys({"source", "claims"}, set())
        reference = group.text("source", required=True)
        for claim_item in group.items("claims", "claim"):
            claim = _claim(claim_item, "", None, reference)
            if claim.id in seen:
                raise claim_item.fail(f"claim id {claim.id!r} is used twice in this file")
            seen.add(claim.id)
            claims.append(claim)
    return claims


def load_curated(data_dir: Path) -> CuratedData:
    """Read elements.yaml, entities.yaml, documents.yaml and facts/*.yaml from `data_dir`."""
    source, elements = _elements(data_dir / "elements.yaml")
    registry = _Item(read_yaml(data_dir / "entities.yaml"), data_dir / "entities.yaml", "entities file", 1)
    registry.check_keys({"entities"}, set())
    entities = [_entity(e) for e in registry.items("entities", "entity")]
    documents, claims = _documents(data_dir / "documents.yaml")
    claims += _background(data_dir / "background.yaml")
    waivers: list[Waiver] = []
    fact_files = sorted((data_dir / "facts").glob("*.yaml"))
    for path in fact_files:
        more_entities, more_claims, more_waivers = _facts_file(path)
        entities += more_entities
        claims += more_claims
        waivers += more_waivers
    files = (data_dir / "elements.yaml", data_dir / "entities.yaml", data_dir / "documents.yaml",
             *([data_dir / "background.yaml"] if (data_dir / "background.yaml").exists() else []), *fact_files)
    return CuratedData(source, tuple(elements), tuple(entities), tuple(documents), tuple(claims), tuple(waivers),
                       files)
