"""Plain values passed between kgtool's steps: curated facts, reports and results."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True)
class Origin:
    """Where a curated item was written: file and line, for error messages."""

    path: Path
    line: int

    def __str__(self) -> str:
        try:
            shown = self.path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}"


@dataclass(frozen=True)
class QuoteRef:
    """A quote as the curator wrote it, not yet anchored in its document."""

    doc_id: str
    quote: str
    origin: Origin
    occurrence: int | None = None
    prefix: str | None = None


@dataclass(frozen=True)
class Element:
    """A chemical element (background data)."""

    id: str
    label: str
    symbol: str
    atomic_number: int
    rare_earth: bool
    lanthanide: bool
    alt: tuple[str, ...]
    origin: Origin


@dataclass(frozen=True)
class Entity:
    """A named thing from the registry or a facts file."""

    id: str
    types: tuple[str, ...]
    label: str
    alt: tuple[str, ...]
    former: tuple[str, ...]
    evidence: tuple[QuoteRef, ...]
    background: str | None
    note: str | None
    origin: Origin


@dataclass(frozen=True)
class QuantityClaim:
    """A source's figure: a value in a unit, of something, as of a time, asserted by someone."""

    id: str
    doc_id: str
    quote: QuoteRef | None
    subject: str
    measure: str
    value: Decimal
    unit: str
    as_stated: str
    qualifier: str = "exactly"
    commodity: str | None = None
    as_of: str | None = None
    attributed_to: str | None = None
    scope: str | None = None
    hedge: str | None = None
    classification: str | None = None
    time_note: str | None = None
    reference: str | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class RelationClaim:
    """A source's statement that a subject relates to an entity or a literal, over an interval."""

    id: str
    doc_id: str
    quote: QuoteRef | None
    subject: str
    property: str
    object: str | None = None
    value: str | None = None
    start: str | None = None
    end: str | None = None
    as_of: str | None = None
    attributed_to: str | None = None
    as_stated: str | None = None
    time_note: str | None = None
    metadata: bool = False
    reference: str | None = None
    origin: Origin | None = None


Named = Element | Entity
"""Anything with an entity id: a chemical element or an entity of the registry."""

Claim = QuantityClaim | RelationClaim
"""A claim has a quote from a source document, or (background data) a `reference` work and no document."""


@dataclass(frozen=True)
class Waiver:
    """A number in the text deliberately not captured, with the reason."""

    doc_id: str
    quote: QuoteRef
    reason: str


@dataclass(frozen=True)
class DocumentMeta:
    """What the curated metadata says of one source document."""

    doc_id: str
    title: str | None
    language: str
    origin: Origin


@dataclass(frozen=True)
class CuratedData:
    """Everything in data/: elements, entities, document metadata, claims and waivers."""

    element_source: str
    elements: tuple[Element, ...]
    entities: tuple[Entity, ...]
    documents: tuple[DocumentMeta, ...]
    claims: tuple[Claim, ...]
    waivers: tuple[Waiver, ...]
    files: tuple[Path, ...] = field(default=())
