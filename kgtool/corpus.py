"""Read the source documents and clean them, keeping every offset into the stored file.

A document's stored text is never changed. Cleaning decides which lines (paragraphs) are kept:
scraping boilerplate (paywall prompts, error banners, disclaimers, view counters, bylines,
navigation links) and paragraphs that repeat an earlier one are removed, each with a reason.
Offsets are code points into the stored text, end exclusive, as Web Annotation selectors use.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import BadInputError

DOCUMENT_ID = re.compile(r"^(\d{3})_")

# One line of boilerplate each: (pattern on the whitespace-collapsed line, reason).
BOILERPLATE_LINES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"^[45]\d\d$", "HTTP error banner"),
        (r"^Sorry!+$", "HTTP error banner"),
        (r"^Error! .*(doesn't|does not) exist\.?$", "HTTP error banner"),
        (r"^Continue Reading This Article$", "paywall prompt"),
        (r"^Enjoy this article as well as all of our content", "paywall prompt"),
        (r"^By registering or signing into your .* account", "paywall prompt"),
        (r"^Comments$", "comments section"),
        (r"^No comments?$", "comments section"),
        (r"^All news\.*$", "navigation link"),
        (r"^• ?\d[\d,. ]*views?$", "view counter"),
        (r"^\w+ • \w+$", "dateline"),
        (r"^Source: \S.*$", "source credit (kept as document metadata)"),
        (r"^(January|February|March|April|May|June|July|August|September|October|November|December)"
         r" \d{1,2}, \d{4}$", "date line (kept as document metadata)"),
        (r"^date \d{4}-\d{2}-\d{2}\b.*$", "date line (kept as document metadata)"),
        (r"^(Details|Reference|Recall)$", "section label"),
    )
)

# Blocks of boilerplate: from a line matching the start pattern up to the next blank line.
BOILERPLATE_BLOCKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Legal Disclaimer:?$"), "legal disclaimer"),
)

# A byline: a personal name alone on the document's last non-empty line.
BYLINE = re.compile(r"^[A-Z][a-z]+(?:[- ][A-Z][a-z]+){1,2}$")

WHITESPACE = re.compile(r"\s+")
BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (including no-break spaces) as one space, ends stripped."""
    return WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Span:
    """A span of the stored text: code points, end exclusive."""

    start: int
    end: int

    def contains(self, other: "Span") -> bool:
        return self.start <= other.start and other.end <= self.end


@dataclass(frozen=True)
class Paragraph:
    """A kept line of the document, trimmed of surrounding whitespace."""

    span: Span
    text: str


@dataclass(frozen=True)
class Removal:
    """A line the cleaner removed, and why."""

    span: Span
    reason: str


@dataclass(frozen=True)
class Document:
    """One stored source document and what cleaning kept of it."""

    doc_id: str
    path: Path
    text: str
    kept: tuple[Paragraph, ...]
    removed: tuple[Removal, ...]

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def cleaned_text(self) -> str:
        """The kept paragraphs, separated by blank lines."""
        return "\n\n".join(p.text for p in self.kept)

    def is_kept(self, span: Span) -> bool:
        """True when the span lies inside one kept paragraph."""
        return any(p.span.contains(span) for p in self.kept)

    def removal_at(self, span: Span) -> Removal | None:
        """The removal that covers the span's start, if any."""
        return next((r for r in self.removed if r.span.start <= span.start < r.span.end), None)

    @property
    def first_line(self) -> str:
        return self.kept[0].text if self.kept else ""


def _lines(text: str) -> list[Span]:
    """Spans of the non-blank lines, trimmed of surrounding whitespace."""
    spans = []
    offset = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            spans.append(Span(offset + lead, offset + lead + len(stripped)))
        offset += len(raw) + 1
    return spans


def clean(doc_id: str, path: Path, text: str) -> Document:
    """Decide which lines of `text` are kept; see the module docstring."""
    lines = _lines(text)
    kept: list[Paragraph] = []
    removed: list[Removal] = []
    seen: set[str] = set()
    block_reason: str | None = None
    previous_end = 0
    for index, span in enumerate(lines):
        line = collapse_whitespace(text[span.start:span.end])
        if block_reason and BLANK_LINE.search(text[previous_end:span.start]):
            block_reason = None
        previous_end = span.end
        reason = block_reason
        if reason is None:
            reason = next((why for pattern, why in BOILERPLATE_BLOCKS if pattern.match(line)), None)
            block_reason = reason
        if reason is None:
            reason = next((why for pattern, why in BOILERPLATE_LINES if pattern.match(line)), None)
        if reason is None and index == len(lines) - 1 and BYLINE.match(line):
            reason = "byline (kept as document metadata)"
        if reason is None and line in seen:
            reason = "repeats an earlier paragraph"
        if reason is None:
            seen.add(line)
            kept.append(Paragraph(span, text[span.start:span.end]))
        else:
            removed.append(Removal(span, reason))
    return Document(doc_id, path, text, tuple(kept), tuple(removed))


def read_document(path: Path) -> Document:
    """Read one stored document (UTF-8, NFC) and clean it."""
    match = DOCUMENT_ID.match(path.name)
    if not match:
        raise BadInputError("a corpus file's name must start with a three-digit document id and '_'",
                            path=path, hint="rename it like 005_some-slug.txt")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError(f"not valid UTF-8 at byte {error.start}", path=path,
                            hint="store the document as UTF-8 text") from None
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", path=path) from None
    if not unicodedata.is_normalized("NFC", text):
        raise BadInputError("text is not in Unicode NFC", path=path,
                            hint="normalise it once (unicodedata.normalize('NFC', text)) and store it")
    return clean(match.group(1), path, text)


def read_corpus(folder: Path) -> dict[str, Document]:
    """Every `NNN_*.txt` document in the folder, by document id."""
    if not folder.is_dir():
        raise BadInputError("corpus folder not found", path=folder)
    documents: dict[str, Document] = {}
    for path in sorted(folder.glob("*.txt")):
        document = read_document(path)
        if document.doc_id in documents:
            raise BadInputError(f"two files share the document id {document.doc_id}", path=path)
        documents[document.doc_id] = document
    return documents
