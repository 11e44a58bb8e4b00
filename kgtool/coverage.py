"""Coverage: does the graph account for every number and every known-entity mention in the cleaned corpus?

A number (written in digits) is captured when a claim's quote covers it, waived when a waiver's quote
covers it, and missing otherwise. A mention of a known entity's name is accounted for when a claim's
quote covers it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .build import BuildResult, claim_iri
from .corpus import Span
from .model import Named, RelationClaim

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


class Status(str, Enum):
    CAPTURED = "captured"
    WAIVED = "waived"
    MISSING = "missing"


@dataclass(frozen=True)
class Mention:
    """A number or an entity name found in a kept paragraph."""

    doc_id: str
    span: Span
    text: str
    status: Status
    by: tuple[str, ...]
    entity: str | None = None


@dataclass(frozen=True)
class CoverageReport:
    numbers: tuple[Mention, ...]
    mentions: tuple[Mention, ...]

    @property
    def missing_numbers(self) -> tuple[Mention, ...]:
        return tuple(m for m in self.numbers if m.status is Status.MISSING)

    @property
    def complete(self) -> bool:
        return not self.missing_numbers


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")


def coverage(result: BuildResult) -> CoverageReport:
    """Every digit-number and known-entity name in the cleaned text, with whether the graph accounts for it."""
    curated = result.sources.curated
    claim_spans: dict[str, list[tuple[Span, str]]] = {}
    waiver_spans: dict[str, list[tuple[Span, str]]] = {}
    for claim in curated.claims:
        if claim.quote is None or (isinstance(claim, RelationClaim) and claim.metadata):
            continue
        found = result.anchors[claim.quote]
        claim_spans.setdefault(claim.doc_id, []).append((found.span, str(claim_iri(claim))))
    for waiver in curated.waivers:
        found = result.anchors[waiver.quote]
        waiver_spans.setdefault(waiver.doc_id, []).append((found.span, waiver.reason))
    named: list[Named] = [*curated.elements, *curated.entities]
    names = sorted({(name, item.id) for item in named
                    for name in (item.label, *item.alt) if len(name) >= 2},
                   key=lambda pair: (-len(pair[0]), pair))
    patterns = [(_name_pattern(name), entity_id) for name, entity_id in names]
    numbers: list[Mention] = []
    mentions: list[Mention] = []
    for doc_id, document in sorted(result.sources.documents.items()):
        claims = claim_spans.get(doc_id, [])
        waivers = waiver_spans.get(doc_id, [])

        def covering(span: Span, spans: list[tuple[Span, str]]) -> tuple[str, ...]:
            return tuple(sorted({label for outer, label in spans if outer.contains(span)}))

        for paragraph in document.kept:
            base = paragraph.span.start
            for match in NUMBER.finditer(paragraph.text):
                span = Span(base + match.start(), base + match.end())
                by = covering(span, claims)
                status = Status.CAPTURED if by else Status.MISSING
                if not by:
                    by = covering(span, waivers)
                    status = Status.WAIVED if by else Status.MISSING
                numbers.append(Mention(doc_id, span, match.group(), status, by))
            taken: list[Span] = []
            for pattern, entity_id in patterns:
                for match in pattern.finditer(paragraph.text):
                    span = Span(base + match.start(), base + match.end())
                    if any(t.start < span.end and span.start < t.end for t in taken):
                        continue  # longest name first: "Rosatom Nedra" hides "Rosatom" inside it
                    taken.append(span)
                    by = covering(span, claims)
                    mentions.append(Mention(doc_id, span, match.group(),
                                            Status.CAPTURED if by else Status.MISSING, by, entity_id))
    mentions.sort(key=lambda m: (m.doc_id, m.span.start))
    return CoverageReport(tuple(numbers), tuple(mentions))
