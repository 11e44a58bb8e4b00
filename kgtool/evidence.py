"""Anchor quotes in their documents: exact match after whitespace normalisation, or an error.

A quote is never re-anchored to a lookalike. When it occurs more than once where it may lie,
the curator says which occurrence (or gives the text just before it); otherwise it is ambiguous.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .corpus import Document, Span

CONTEXT = 32  # code points of prefix and suffix stored beside the exact quote
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Anchor:
    """A quote resolved to its position in the stored text, with Web Annotation selector values."""

    doc_id: str
    span: Span
    exact: str
    prefix: str
    suffix: str


class QuoteError(ValueError):
    """The quote cannot be anchored; the message says why and what to do."""


def _normalised(text: str) -> tuple[str, list[int]]:
    """Text with every whitespace run as one space, and the stored offset of each kept character."""
    chars: list[str] = []
    offsets: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if _SPACE.match(char):
            if in_space:
                continue
            in_space = True
            char = " "
        else:
            in_space = False
        chars.append(char)
        offsets.append(index)
    return "".join(chars), offsets


def occurrences(document: Document, quote: str) -> list[Span]:
    """Every span of the stored text that equals `quote` after whitespace normalisation."""
    needle = " ".join(quote.split())
    if not needle:
        return []
    haystack, offsets = _normalised(document.text)
    spans = []
    start = haystack.find(needle)
    while start != -1:
        last = start + len(needle) - 1
        spans.append(Span(offsets[start], offsets[last] + 1))
        start = haystack.find(needle, start + 1)
    return spans


def anchor(document: Document, quote: str, *, occurrence: int | None = None, prefix: str | None = None,
           kept_only: bool = True) -> Anchor:
    """Resolve `quote` to exactly one span of `document`, or raise QuoteError."""
    found = occurrences(document, quote)
    if not found:
        raise QuoteError(f"quote not found in document {document.doc_id} ({document.path.name}): {quote!r}")
    if occurrence is not None:
        if not 1 <= occurrence <= len(found):
            raise QuoteError(f"occurrence {occurrence} asked, but the quote occurs {len(found)} time(s) "
                             f"in document {document.doc_id}")
        candidates = [found[occurrence - 1]]
    elif prefix is not None:
        wanted = " ".join(prefix.split())
        candidates = [s for s in found
                      if " ".join(document.text[:s.start].split()).endswith(wanted)]
        if not candidates:
            raise QuoteError(f"no occurrence of the quote in document {document.doc_id} follows the prefix "
                             f"{prefix!r}")
    else:
        candidates = found
    if kept_only:
        kept = [s for s in candidates if document.is_kept(s)]
        if not kept:
            removal = document.removal_at(candidates[0])
            why = removal.reason if removal else "text the cleaner removed"
            raise QuoteError(f"the quote lies in removed text ({why}) of document {document.doc_id}; "
                             "a claim's quote must lie in the cleaned text")
        candidates = kept
    if len(candidates) > 1:
        raise QuoteError(f"the quote occurs {len(candidates)} times in document {document.doc_id}; add "
                         "`occurrence: N` or `prefix:` to say which")
    span = candidates[0]
    return Anchor(
        doc_id=document.doc_id,
        span=span,
        exact=document.text[span.start:span.end],
        prefix=document.text[max(0, span.start - CONTEXT):span.start],
        suffix=document.text[span.end:span.end + CONTEXT],
    )
