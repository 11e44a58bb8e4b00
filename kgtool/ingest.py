"""Ingest a new article: link what the graph knows, propose what it does not, for a curator to review.

`ingest` cleans the text with the corpus cleaner (offsets stay code points into the text as
given), links known-entity mentions (see `kgtool.linker`), finds quantities and dates (see
`kgtool.quantities`), and proposes new organisations, people and places by the form of their
names. Nothing is added to the graph: `review_yaml` writes a facts file in the curated format
(data/README.md) with every quote anchored, `accept` moves a reviewed file into data/facts/, and
`add_document` stores the article in the corpus with its metadata, so that the next build checks
every quote as usual.

Input is bounded: at most `MAX_BYTES` (5 MiB) per document, read without reading more; empty
text, NUL bytes (binary files) and invalid UTF-8 are refused with the byte offset. No network.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rdflib import Graph

from .config import Project, find_project
from .corpus import DOCUMENT_ID, Document, clean, read_document
from .curated import DOC_ID, LINE, SLUG, _facts_file, load_curated, read_yaml
from .errors import BadInputError
from .evidence import QuoteError, anchor, occurrences
from .linker import Ambiguity, Lexicon, Linker, Mention, Token, fold, tokenize
from .model import Named, QuantityClaim, RelationClaim
from .namespaces import KGR
from .quantities import (
    DateMention,
    QuantityMention,
    find_dates,
    find_quantities,
    sentence_spans,
)
from .rdfio import write_atomic

MAX_BYTES = 5 * 1024 * 1024
"""Largest document `ingest` and `add_document` accept (5 MiB); a news article is a few KiB."""

VARIANTS_FILE = "variants.yaml"

# ---- reading input safely --------------------------------------------------------------------------


def decode_input(data: bytes, *, name: str = "stdin", max_bytes: int = MAX_BYTES) -> str:
    """The text of `data`, or BadInputError: too large, binary (NUL), not UTF-8, or empty."""
    where = Path(name) if name != "stdin" else None
    label = "" if where else "stdin: "
    if len(data) > max_bytes:
        raise BadInputError(f"{label}{len(data)} bytes or more, above the limit of {max_bytes} bytes "
                            f"({max_bytes // (1024 * 1024)} MiB) for one document", path=where,
                            hint="ingest one news article at a time")
    nul = data.find(b"\x00")
    if nul != -1:
        raise BadInputError(f"{label}a binary file (NUL byte at byte offset {nul}), not text", path=where,
                            hint="ingest plain UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError(f"{label}not valid UTF-8 at byte offset {error.start} "
                            f"(byte 0x{data[error.start]:02x})", path=where,
                            hint="convert the file to UTF-8 (e.g. iconv -f cp1251 -t utf-8)") from None
    if not text.strip():
        raise BadInputError(f"{label}empty document: nothing to ingest", path=where)
    return text


def read_input(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of `path`, refusing a file above `max_bytes` without reading it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BadInputError(f"{size} bytes, above the limit of {max_bytes} bytes "
                                f"({max_bytes // (1024 * 1024)} MiB) for one document", path=path,
                                hint="ingest one news article at a time")
        with path.open("rb") as stream:
            return stream.read(max_bytes + 1)
    except IsADirectoryError:
        raise BadInputError("is a folder, not a file", path=path) from None
    except FileNotFoundError:
        raise BadInputError("file not found", path=path) from None
    except OSError as error:
        raise BadInputError(f"cannot read: {error.strerror}", path=path) from None


def load_variants(path: Path) -> dict[str, tuple[str, ...]]:
    """data/variants.yaml: entity id -> extra names, each with its `source` or `reason` (a missing file: none)."""
    if not path.exists():
        return {}
    top = read_yaml(path)
    variants = top.get("variants") or {}
    if set(top) - {"variants", LINE} or not isinstance(variants, dict):
        raise BadInputError("expected a mapping 'variants:' of entity id -> list of names", path=path, line=1)
    result: dict[str, tuple[str, ...]] = {}
    for entity_id, entries in variants.items():
        if entity_id == LINE:
            continue
        if not isinstance(entity_id, str) or not SLUG.match(entity_id) or not isinstance(entries, list):
            raise BadInputError(f"{entity_id!r}: expected an entity id with a list of variants", path=path)
        names = []
        for entry in entries:
            line = entry.get(LINE) if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                    or not (isinstance(entry.get("source"), str) or isinstance(entry.get("reason"), str)) \
                    or set(entry) - {"name", "source", "reason", LINE}:
                raise BadInputError(f"{entity_id}: each variant is {{name, source}} or {{name, reason}}",
                                    path=path, line=line)
            names.append(entry["name"])
        result[entity_id] = tuple(names)
    return result


def project_lexicon(graph: Graph, project: Project | None = None) -> Lexicon:
    """The linker's lexicon: the graph's names plus the project's data/variants.yaml."""
    project = project or find_project()
    return Lexicon.from_graph(graph, load_variants(project.data / VARIANTS_FILE))


# ---- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """A sentence of a kept paragraph: offsets into the text, end exclusive."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Quantity:
    """A quantity found, with its sentence and the known entities and dates in that sentence."""

    found: QuantityMention
    sentence: Sentence
    entities: tuple[str, ...]
    dates: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A proposed new entity: an organisation, person or place no known name covers."""

    kind: str               # organisation, person, place
    name: str
    start: int
    end: int
    rule: str               # how it was found
    type: str               # the suggested kg: class
    id: str                 # the suggested slug
    sentence: Sentence
    count: int = 1


@dataclass(frozen=True)
class IngestResult:
    """What `ingest` found in one text."""

    name: str
    doc_id: str | None
    document: Document
    doc_date: date | None
    date_source: str | None
    mentions: tuple[Mention, ...]
    ambiguities: tuple[Ambiguity, ...]
    quantities: tuple[Quantity, ...]
    dates: tuple[DateMention, ...]
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...]
    lexicon: Lexicon = field(repr=False, compare=False)

    def entity_counts(self) -> Counter[str]:
        return Counter(m.entity for m in self.mentions)


# ---- document metadata -----------------------------------------------------------------------------

_DATE_LINE = re.compile(r"^(?:date )?(?P<iso>\d{4}-\d{2}-\d{2})\b|^(?P<mdy>(?:January|February|March|April|May|June|"
                        r"July|August|September|October|November|December) \d{1,2}, \d{4})$")


def _date_of_line(line: str) -> tuple[date, str] | None:
    """The date a date line states, and the text that states it."""
    match = _DATE_LINE.match(" ".join(line.split()))
    if not match:
        return None
    try:
        if match.group("iso"):
            return date.fromisoformat(match.group("iso")), match.group().strip()
        return datetime.strptime(match.group("mdy"), "%B %d, %Y").date(), match.group()
    except ValueError:
        return None


def document_date(document: Document) -> tuple[date | None, str | None]:
    """The date a leading date line states ("February 26, 2025", "date 2025-11-04"), and that line's text."""
    for removal in document.removed:
        if removal.reason.startswith("date line"):
            found = _date_of_line(document.text[removal.span.start:removal.span.end])
            if found:
                return found
    return None, None


# ---- candidates ------------------------------------------------------------------------------------

ORG_SUFFIXES = {
    "JSC": "Company", "PJSC": "Company", "OJSC": "Company", "CJSC": "Company", "LLC": "Company", "Ltd": "Company",
    "Limited": "Company", "Group": "Company", "Corporation": "Company", "Corp": "Company", "Company": "Company",
    "Co": "Company", "Inc": "Company", "plc": "Company", "PLC": "Company", "AG": "Company", "GmbH": "Company",
    "Holding": "Company", "Holdings": "Company", "Materials": "Company", "Mining": "Company", "Metals": "Company",
    "Plant": "ProcessingPlant", "Works": "ProcessingPlant", "Combine": "ProcessingPlant", "Refinery": "ProcessingPlant",
    "Institute": "ResearchInstitute", "University": "ResearchInstitute", "Academy": "ResearchInstitute",
    "Ministry": "GovernmentBody", "Agency": "GovernmentBody", "Committee": "GovernmentBody",
    "Commission": "GovernmentBody", "Council": "GovernmentBody", "Authority": "GovernmentBody",
    "Service": "GovernmentBody", "Survey": "GovernmentBody", "Research": "Organisation", "Bank": "Organisation", "Fund": "Organisation", "Association": "Organisation",
}
ORG_STOP = {"the", "a", "an", "in", "on", "at", "by", "for", "from", "to", "of", "and", "or", "but", "however",
            "according", "as", "this", "that", "these", "those", "it", "its", "while", "although", "after", "before",
            "since", "when", "among", "with", "he", "she", "they", "we", "his", "her", "their", "our", "if", "so"}
COMMON_NOUNS = {"market", "markets", "research", "economic", "economy", "forum", "house", "news", "wire", "today",
                "energy", "power", "resources", "industry", "industries", "trade", "development", "nuclear", "oil",
                "gas", "project", "projects", "report", "study", "times", "post", "journal", "review", "media",
                "world", "europe", "government", "office", "website", "technology", "technologies", "minerals",
                "rare", "earth", "earths", "production", "strategy", "plan", "roadmap", "policy", "sanctions",
                "geological", "north", "south", "east", "west", "upper", "lower", "saint", "united", "republic", "kingdom"}
DEPOSIT_WORDS = {"rare", "earth", "earths", "metals", "metal", "and", "lead", "zinc", "gold", "copper", "nickel",
                 "coal", "iron", "ore", "polymetallic", "uranium", "lithium", "tin", "tungsten", "apatite",
                 "phosphate", "silver", "platinum", "cobalt", "molybdenum", "niobium", "tantalum", "titanium",
                 "loparite", "rare-earth", "gold-copper", "copper-nickel"}
ORG_HEADS = {"Ministry", "Institute", "Agency", "Bank", "University", "Committee", "Council", "Department",
             "Academy", "Federal", "Commission"}
LEGAL_PREFIXES = {"JSC", "PJSC", "OJSC", "CJSC", "LLC", "AO", "PAO", "OOO"}
PLACE_HEADS = {"oblast": "Region", "region": "Region", "territory": "Region", "krai": "Region", "kray": "Region",
               "republic": "Region", "okrug": "Region", "district": "Region", "province": "Region",
               "peninsula": "GeographicFeature", "archipelago": "GeographicFeature", "island": "GeographicFeature",
               "islands": "GeographicFeature", "mountains": "GeographicFeature",
               "deposit": "Deposit", "field": "Deposit", "mine": "Deposit", "area": "SubsoilArea"}
TITLES = {"president", "minister", "ceo", "spokesman", "spokeswoman", "spokesperson", "governor", "director",
          "chairman", "chairwoman", "head", "aide", "envoy", "adviser", "advisor", "scientist", "mr", "mrs", "ms",
          "dr", "deputy", "secretary", "ambassador", "senator", "analyst", "founder", "owner", "billionaire",
          "businessman", "executive", "economist", "professor", "prof", "general"}
CONNECTORS = {"of", "and", "for", "&", "de", "the"}
NOT_NAMES = {
    "the", "a", "an", "in", "on", "at", "by", "for", "from", "to", "of", "and", "or", "but", "however", "according",
    "as", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "our", "their", "his", "her",
    "today", "now", "so", "also", "while", "although", "after", "before", "since", "when", "where", "what",
    "which", "who", "among", "most", "some", "many", "other", "global", "new", "first", "last", "next", "details",
    "reference", "recall", "source", "legal", "there", "here", "if", "yet", "still", "such", "all", "both", "no",
    "not", "with", "without", "under", "over", "between", "during", "officials", "analysts", "experts",
    "russian", "chinese", "american", "ukrainian", "soviet", "european", "western", "eastern", "northern",
    "southern", "polish", "estonian", "british", "german", "french", "japanese", "indian", "korean", "arctic",
    "federal", "state", "national", "international", "prime", "chief", "vice", "general", "read", "more",
    *TITLES, *(k.lower() for k in ORG_SUFFIXES), *PLACE_HEADS,
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}


def slugify(name: str) -> str:
    """A lower-case slug of a name ("Lovozero Mining Company" -> "lovozero-mining-company")."""
    parts = [fold(t.text) for t in tokenize(name) if t.kind != "poss"]
    return "-".join(p for p in parts if p) or "entity"


def _is_name_word(token: Token) -> bool:
    return token.kind == "word" and token.text[:1].isupper() and token.text.isalpha() \
        and token.text.lower() not in NOT_NAMES


def _is_person_word(token: Token) -> bool:
    return _is_name_word(token) and not token.text.isupper() and token.text.lower() not in COMMON_NOUNS


def _soft_between(text: str, offset: int, left: Token, right: Token) -> bool:
    return bool(re.fullmatch(r"[ \t\"“”«»-]*", text[left.end - offset:right.start - offset]))


def propose_candidates(text: str, offset: int, covered: list[tuple[int, int]],
                       sentences: list[Sentence], materials: list[tuple[int, int]] | None = None) -> list[Candidate]:
    """Organisations, people and places named in one paragraph, outside the `covered` spans; a
    deposit's name may contain known materials ("Pavlovsky lead-zinc deposit"), given as `materials`."""
    tokens = tokenize(text, offset)
    words = [t for t in tokens if t.kind == "word" and len(t.text) > 3]
    heading = bool(words) and sum(t.text[:1].isupper() for t in words) / len(words) >= 0.6 and "." not in text[-2:]
    free = [not any(s < t.end and t.start < e for s, e in covered) for t in tokens]
    material = [any(s <= t.start and t.end <= e for s, e in materials or []) for t in tokens]
    found: list[Candidate] = []
    used: set[int] = set()

    def sentence_of(position: int) -> Sentence:
        return next((s for s in sentences if s.start <= position < s.end), sentences[-1])

    def add(kind: str, first: int, last: int, rule: str, type_name: str) -> None:
        while first <= last and tokens[first].keys[0] in CONNECTORS:
            first += 1
        allowed = [free[i] or (type_name in ("Deposit", "SubsoilArea") and material[i]) for i in range(first, last + 1)]
        if first > last or not all(allowed) or used & set(range(first, last + 1)):
            return
        start, end = tokens[first].start, tokens[last].end
        name = text[start - offset:end - offset]
        used.update(range(first, last + 1))
        found.append(Candidate(kind, name, start, end, rule, type_name, slugify(name), sentence_of(start)))

    def style(token: Token) -> str:
        return "caps" if token.text.isupper() and len(token.text) > 1 else "title"

    def org_word(token: Token, wanted: str | None) -> bool:
        return token.kind == "word" and token.text[:1].isupper() and token.text.lower() not in ORG_STOP \
            and (wanted is None or style(token) == wanted)

    def name_run_left(index: int, limit: int = 5) -> int:
        """The first token of the run of capitalised words (with inner connectors) ending before `index`;
        the run keeps one case style ("the Alexander Nesis EAST Group" gives "EAST Group")."""
        first = index
        wanted: str | None = None
        while first - 1 >= 0 and index - first < limit and free[first - 1] \
                and _soft_between(text, offset, tokens[first - 1], tokens[first]):
            previous = tokens[first - 1]
            if org_word(previous, wanted):
                wanted = wanted or style(previous)
                first -= 1
            elif previous.keys[0] in ("of", "and", "&") and first - 2 >= 0 and org_word(tokens[first - 2], wanted) \
                    and wanted is not None:
                first -= 1
            else:
                break
        return first

    def name_run_right(index: int, limit: int = 6) -> int:
        last = index
        while last + 1 < len(tokens) and last - index < limit and free[last + 1] \
                and _soft_between(text, offset, tokens[last], tokens[last + 1]):
            following = tokens[last + 1]
            capitalised = following.kind == "word" and following.text[:1].isupper() \
                and following.text.lower() not in ("the", "in", "on", "at", "by", "to", "from")
            connector = following.keys[0] in ("of", "and", "for", "&") and last + 2 < len(tokens) \
                and tokens[last + 2].text[:1].isupper()
            if capitalised or connector:
                last += 1
            else:
                break
        while last > index and tokens[last].keys[0] in CONNECTORS:
            last -= 1
        return last

    # organisations: a name ending in a legal form or an organisation word, or "Ministry of ..."
    for index, token in enumerate(tokens):
        if not free[index] or token.kind != "word":
            continue
        if token.text in ORG_SUFFIXES and (token.text.isupper() or token.text[:1].isupper()):
            run_end = name_run_right(index)
            if any(tokens[i].text in ORG_SUFFIXES for i in range(index + 1, run_end + 1)):
                continue   # the name goes on to a later suffix: "Lovozero Mining Company"
            first = name_run_left(index)
            if first < index:
                add("organisation", first, index, f"name ending in '{token.text}'", ORG_SUFFIXES[token.text])
                continue
        if token.text in ORG_HEADS and index + 1 < len(tokens) and tokens[index + 1].keys[0] in ("of", "for"):
            last = name_run_right(index)
            if last > index + 1:
                add("organisation", index, last, f"'{token.text} of/for ...'",
                    ORG_SUFFIXES.get(token.text, "GovernmentBody"))
                continue
        if token.text in LEGAL_PREFIXES and index + 1 < len(tokens):
            last = name_run_right(index)
            if last > index:
                add("organisation", index, last, f"name after the legal form '{token.text}'", "Company")
    # places: capitalised words before a place word; "Republic of X"
    for index, token in enumerate(tokens):
        head = token.keys[0]
        if not free[index] or head not in PLACE_HEADS or index in used:
            continue
        if head == "area" and not (index >= 1 and tokens[index - 1].keys[0] in ("subsurface", "subsoil")):
            continue
        first = index - 1 if head == "area" else index
        if PLACE_HEADS[head] in ("Deposit", "SubsoilArea"):   # "Pavlovsky lead-zinc deposit"
            while first - 1 >= 0 and index - first < 8 and not tokens[first - 1].capitalised \
                    and (free[first - 1] and tokens[first - 1].keys[0] in DEPOSIT_WORDS or material[first - 1]) \
                    and _soft_between(text, offset, tokens[first - 1], tokens[first]):
                first -= 1
        named = first
        while first - 1 >= 0 and named - first < 3 and free[first - 1] and _is_name_word(tokens[first - 1]) \
                and _soft_between(text, offset, tokens[first - 1], tokens[first]):
            first -= 1
        if first == named:
            first = index
        if first < index:
            add("place", first, index, f"name before '{token.text}'", PLACE_HEADS[head])
        elif token.text == "Republic" and index + 2 < len(tokens) and tokens[index + 1].keys[0] == "of" \
                and _is_name_word(tokens[index + 2]):
            add("place", index, index + 2, "'Republic of ...'", "Region")
    # people: two or three capitalised name words, after a title or (outside headings) alone
    index = 0
    while index < len(tokens):
        if not free[index] or index in used or not _is_person_word(tokens[index]):
            index += 1
            continue
        last = index
        while last + 1 < len(tokens) and last - index < 3 and free[last + 1] and last + 1 not in used \
                and (_is_person_word(tokens[last + 1]) or tokens[last + 1].kind == "initial") \
                and _soft_between(text, offset, tokens[last], tokens[last + 1]) \
                and "-" not in text[tokens[last].end - offset:tokens[last + 1].start - offset]:
            last += 1
        size = last - index + 1
        following = tokens[last + 1].keys[0] if last + 1 < len(tokens) else ""
        titled = index >= 1 and tokens[index - 1].keys[0] in TITLES
        if 2 <= size <= 3 and tokens[last].kind == "word" and following not in PLACE_HEADS \
                and tokens[last + 1 if last + 1 < len(tokens) else last].text not in ORG_SUFFIXES \
                and (titled or not heading):
            add("person", index, last, f"name after the title '{tokens[index - 1].text}'" if titled
                else "two or three capitalised words", "Person")
        index = last + 1
    merged: dict[tuple[str, str], Candidate] = {}
    for candidate in found:
        key = (candidate.kind, " ".join(fold(t.text) for t in tokenize(candidate.name)))
        if key in merged:
            merged[key] = replace(merged[key], count=merged[key].count + 1)
        else:
            merged[key] = candidate
    return list(merged.values())


# ---- ingest ------------------------------------------------------------------------------------------


def ingest(text: str, *, graph: Graph, doc_date: date | None = None, name: str = "stdin",
           doc_id: str | None = None, lexicon: Lexicon | None = None) -> IngestResult:
    """Clean `text`, link known entities, find quantities and dates, propose new entities.

    Offsets are code points into `text` as given. `doc_date` resolves relative dates; when it is
    None, the document's own date line ("February 26, 2025") is used if it has one. `doc_id` (three
    digits) is the id the review file uses; by default the id in `name` ("005_x.txt"), if any."""
    if not text.strip():
        raise BadInputError("empty document: nothing to ingest", path=None if name == "stdin" else Path(name))
    match = DOCUMENT_ID.match(Path(name).name)
    doc_id = doc_id or (match.group(1) if match else None)
    document = clean(doc_id or "new", Path(name), text)
    notes: list[str] = []
    date_source = "given" if doc_date else None
    if doc_date is None:
        doc_date, line = document_date(document)
        if doc_date:
            date_source = f"the date line {line!r}"
    if doc_date is None:
        notes.append("the document's date is unknown: relative dates are left unresolved (pass the date to resolve them)")
    if not unicodedata.is_normalized("NFC", text):
        notes.append("the text is not in Unicode NFC: `add_document` will refuse it until it is normalised")
    if not document.kept:
        notes.append("the cleaner removed every line: nothing left to link")
    lexicon = lexicon or project_lexicon(graph)
    linker = Linker(lexicon)
    mentions: list[Mention] = []
    ambiguities: list[Ambiguity] = []
    quantities: list[Quantity] = []
    dates: list[DateMention] = []
    candidates: list[Candidate] = []
    for paragraph in document.kept:
        base = paragraph.span.start
        sentences = [Sentence(base + s, base + e, paragraph.text[s:e]) for s, e in sentence_spans(paragraph.text)]
        found, unclear = linker.link_paragraph(paragraph.text, base)
        mentions += found
        ambiguities += unclear
        paragraph_dates = find_dates(paragraph.text, doc_date=doc_date, offset=base)
        dates += paragraph_dates
        for quantity in find_quantities(paragraph.text, offset=base, skip=[(d.start, d.end) for d in paragraph_dates]):
            sentence = next((s for s in sentences if s.start <= quantity.number_start < s.end), sentences[-1])
            near = tuple(dict.fromkeys(m.entity for m in found if sentence.start <= m.start < sentence.end))
            when = tuple(d.text for d in paragraph_dates if sentence.start <= d.start < sentence.end)
            quantities.append(Quantity(quantity, sentence, near, when))
            if quantity.note:
                notes.append(f"{quantity.text!r}: {quantity.note}")
        covered = [(m.start, m.end) for m in found] + [(a.start, a.end) for a in unclear]
        materials = [(m.start, m.end) for m in found if lexicon.entity_types(m.iri) & MATERIAL_TYPES]
        candidates += propose_candidates(paragraph.text, base, covered, sentences, materials)
    merged: dict[tuple[str, str], Candidate] = {}
    for candidate in candidates:
        key = (candidate.kind, candidate.id)
        if key in merged:
            merged[key] = replace(merged[key], count=merged[key].count + candidate.count)
        else:
            merged[key] = candidate
    for ambiguity in ambiguities:
        notes.append(f"{ambiguity.surface!r} at {ambiguity.start}-{ambiguity.end} is ambiguous: "
                     + ", ".join(c[len(str(KGR)):] for c in ambiguity.candidates))
    return IngestResult(name, doc_id, document, doc_date, date_source, tuple(mentions), tuple(ambiguities),
                        tuple(quantities), tuple(dates), tuple(merged.values()), tuple(notes), lexicon)


def ingest_bytes(data: bytes, *, graph: Graph, doc_date: date | None = None, name: str = "stdin",
                 doc_id: str | None = None, lexicon: Lexicon | None = None,
                 max_bytes: int = MAX_BYTES) -> IngestResult:
    """`ingest` of raw bytes (stdin): decoded safely first, see `decode_input`."""
    return ingest(decode_input(data, name=name, max_bytes=max_bytes), graph=graph, doc_date=doc_date, name=name,
                  doc_id=doc_id, lexicon=lexicon)


def ingest_file(path: Path, *, graph: Graph, doc_date: date | None = None, doc_id: str | None = None,
                lexicon: Lexicon | None = None, max_bytes: int = MAX_BYTES) -> IngestResult:
    """`ingest` of a file, read safely (size limit first, then NUL bytes, UTF-8, emptiness)."""
    data = read_input(path, max_bytes=max_bytes)
    return ingest(decode_input(data, name=str(path), max_bytes=max_bytes), graph=graph, doc_date=doc_date,
                  name=str(path), doc_id=doc_id, lexicon=lexicon)


# ---- the review file -----------------------------------------------------------------------------

SUBJECT_TYPES = {"State", "Region", "Company", "StateCorporation", "Deposit", "SubsoilArea", "ProcessingPlant",
                 "MagnetPlant", "Project", "GovernmentBody", "SupranationalUnion", "Organisation",
                 "ResearchInstitute", "GeographicFeature"}
MATERIAL_TYPES = {"CommodityGroup", "ChemicalElement", "RareEarthElement", "Lanthanide", "Oxide", "Ore",
                  "Concentrate", "Product", "Commodity", "Mineral"}
MEASURE_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "percent": ((r"reserve", "reserves-share"), (r"import", "import-share"),
                (r"produc|output|mining share|\bmined?\b|supply", "production-share")),
    "tonne": ((r"reserve|\bholds?\b|resources", "reserves"), (r"process", "processing-volume"),
              (r"produc|output|\bmined\b|extract", "production"), (r"suppl", "supply-capacity")),
    "tonne-per-year": ((r"process", "processing-volume"), (r"suppl", "supply-capacity"),
                       (r"produc|output|capacity", "production-capacity")),
    "usd": ((r"invest", "investment"), (r"market", "market-size")),
}
_NOT_SUBJECT = re.compile(r"\b(?:in|at|from|of|by|to|with|for|into|near|according to)\s+(?:the\s+)?$", re.IGNORECASE)
_CLAUSE = re.compile(r",\s*(?:which|who|whose|where|while|whereas)\b[^,]*(?:,|$)"
                     r"|\b(?:if|when|unless|although|though|because|since)\b[^,]*,")
_SOURCE = re.compile(r"\b(?:according to|study by|report by|estimates? (?:by|of))\s+(?:a\s+|the\s+)?$", re.IGNORECASE)
_REPORTED = re.compile(r"\b(?:said|says|say|reported|reports|announced|stated|noted|added|claimed|confirmed)\b"
                       r"[^.;]{0,40}?\bthat\b")
COMMODITY_MEASURES = {"reserves", "production", "processing-volume", "supply-capacity", "production-capacity",
                      "reserves-share", "production-share", "import-share", "market-size"}


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def _quote_fields(document: Document, quote: str, start: int) -> str:
    """`quote: "..."` plus `occurrence: N` when the quote occurs more than once in the stored file."""
    spans = occurrences(document, quote)
    fields = f"quote: {_yaml_string(quote)}"
    if len(spans) > 1:
        number = next(i for i, span in enumerate(spans, 1) if span.start == start)
        fields += f", occurrence: {number}"
    return fields


def _decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True)
class _Guess:
    subject: str | None
    subject_from: str | None
    measure: str | None
    measure_from: str | None
    commodity: str | None
    commodity_from: str | None
    attributed_to: str | None
    attributed_from: str | None


def _guess(result: IngestResult, quantity: Quantity, proposals: dict[str, Candidate]) -> _Guess:
    """Subject, measure, commodity and source of a quantity claim, from its sentence; None where unclear.

    The subject is the first organisation, place or project of the sentence that is not in a
    relative or conditional clause, not after a preposition ("in Yakutia") and, in reported speech,
    after "that"; the measure is the keyword nearest to the number; the commodity the first material
    after the number (else the last before it); the source a name after "according to" or a
    market-research firm."""
    found = quantity.found
    sentence = quantity.sentence
    text = result.document.text
    types = result.lexicon.entity_types
    in_sentence = [m for m in result.mentions if sentence.start <= m.start < sentence.end]
    clauses = [(sentence.start + m.start(), sentence.start + m.end()) for m in _CLAUSE.finditer(sentence.text)]

    def dependent(start: int) -> bool:
        """A name after "in", "of", "according to" ... is a place, a part or a source, not the subject."""
        return bool(_NOT_SUBJECT.search(text[max(sentence.start, start - 24):start])) \
            or any(a <= start < b for a, b in clauses)

    attribution = [(m.start, m.entity, m.surface) for m in in_sentence
                   if _SOURCE.search(text[max(sentence.start, m.start - 24):m.start])
                   or "MarketResearchFirm" in types(m.iri)]
    sources = {a[1] for a in attribution}
    subjects: list[tuple[int, str, str]] = [(m.start, m.entity, m.surface) for m in in_sentence
                                            if types(m.iri) & SUBJECT_TYPES and not dependent(m.start)
                                            and m.entity not in sources]
    subjects += [(c.start, c.id, c.name) for c in proposals.values()
                 if sentence.start <= c.start < sentence.end and c.type in SUBJECT_TYPES and not dependent(c.start)]
    subjects.sort()
    materials = [(m.start, m.entity, m.surface) for m in in_sentence if types(m.iri) & MATERIAL_TYPES]
    measure = measure_from = None
    best = None
    lowered = sentence.text.lower()
    position = found.number_start - sentence.start
    inside = [(m.start - sentence.start, m.end - sentence.start) for m in in_sentence]
    for pattern, name in MEASURE_WORDS.get(found.unit, ()):
        for match in re.finditer(pattern, lowered):
            if any(a <= match.start() < b for a, b in inside):
                continue   # "Ministry of Natural Resources" says nothing about the measure
            distance = abs(match.start() - position)
            if best is None or distance < best:
                best, measure, measure_from = distance, name, match.group()
    speech = [m.end() for m in _REPORTED.finditer(text, sentence.start, found.start)]
    if speech:   # "X said that Y holds 1.7 million tons": the subject is after "that"
        subjects = [s for s in subjects if s[0] >= speech[-1]]
    before = [s for s in subjects if s[0] < found.start]
    after = [s for s in subjects if s[0] >= found.end]
    subject = (before[0] if before else after[0]) if subjects else None
    material = None
    if measure in COMMODITY_MEASURES:
        later = [m for m in materials if m[0] >= found.end]
        earlier = [m for m in materials if m[0] < found.start]
        material = later[0] if later else (earlier[-1] if earlier else None)
    if measure == "market-size" and material and (subject is None or subject[0] < material[0]):
        subject = material
    source = attribution[0] if attribution else None
    return _Guess(subject[1] if subject else None, subject[2] if subject else None, measure, measure_from,
                  material[1] if material else None, material[2] if material else None,
                  source[1] if source else None, source[2] if source else None)


def review_yaml(result: IngestResult, *, doc_id: str | None = None) -> str:
    """A facts file for `result` in the curated format, to review: proposals, quantity claims, TODOs.

    Every quote is the text of the document exactly (with `occurrence` when repeated), so that
    `kgtool.evidence.anchor` finds it; guesses and open questions are YAML comments."""
    doc_id = doc_id or result.doc_id
    if doc_id is None or not DOC_ID.match(doc_id):
        raise BadInputError("the review file needs the document's three-digit id",
                            hint="add the document first (add_document / --add), or pass doc_id")
    document = result.document
    known_ids = {iri[len(str(KGR)):] for iri in result.lexicon.labels}
    lines = [f"# Review file for document {doc_id} ({Path(result.name).name}), written by `kgtool ingest`.",
             "# Everything below is a proposal: check each entity (id, type, label) and each claim (subject,",
             "# measure, commodity, qualifier, as_of) against its quote, delete what is wrong, turn the TODO",
             "# comments into claims or waivers, then accept the file (`kgtool ingest --accept FILE`).",
             f"# Document date: {result.doc_date.isoformat() + ' (' + (result.date_source or '') + ')' if result.doc_date else 'unknown'}."]
    counts = result.entity_counts()
    if counts:
        lines.append("# Known entities mentioned: " + ", ".join(f"{e} ({n})" for e, n in sorted(counts.items())) + ".")
    for ambiguity in result.ambiguities:
        lines.append(f"# AMBIGUOUS {ambiguity.surface!r} at {ambiguity.start}-{ambiguity.end}: one of "
                     + ", ".join(c[len(str(KGR)):] for c in ambiguity.candidates))
    for note in result.notes:
        lines.append(f"# NOTE {note}")
    lines.append(f"document: \"{doc_id}\"")
    proposals: dict[str, Candidate] = {}
    for candidate in result.candidates:
        entity_id = candidate.id
        suffix = 2
        while entity_id in known_ids or entity_id in proposals:
            entity_id, suffix = f"{candidate.id}-{suffix}", suffix + 1
        if SLUG.match(entity_id):
            proposals[entity_id] = replace(candidate, id=entity_id)
    if proposals:
        lines.append("entities:")
        for candidate in proposals.values():
            lines.append(f"  # proposed {candidate.kind} ({candidate.rule}; named {candidate.count} time(s))")
            lines.append(f"  - id: {candidate.id}")
            lines.append(f"    type: {candidate.type}")
            lines.append(f"    label: {_yaml_string(candidate.name)}")
            lines.append(f"    ev: {{doc: \"{doc_id}\", "
                         f"{_quote_fields(document, candidate.sentence.text, candidate.sentence.start)}}}")
    by_sentence: dict[Sentence, list[Quantity]] = {}
    for quantity in result.quantities:
        by_sentence.setdefault(quantity.sentence, []).append(quantity)
    fact_lines: list[str] = []
    claim_ids: set[str] = set()
    for sentence, quantities in by_sentence.items():
        entries: list[tuple[bool, list[str]]] = []     # (a TODO to comment out, lines)
        for quantity in quantities:
            found = quantity.found
            guess = _guess(result, quantity, proposals)
            dates = f"; dates in the quote: {', '.join(repr(d) for d in quantity.dates)}" if quantity.dates else ""
            body = (f"value: {_decimal(found.value)}, unit: {found.graph_unit or 'TODO'}, "
                    f"as_stated: {_yaml_string(found.text)}")
            if found.qualifier != "exactly":
                body += f", qualifier: {found.qualifier}"
            if guess.attributed_to:
                body += f", attributed_to: {guess.attributed_to}"
            commodity = f", commodity: {guess.commodity}" if guess.commodity else ""
            if found.graph_unit is None or found.unit == "item" or guess.subject is None or guess.measure is None:
                why = (found.note if found.graph_unit is None else
                       "a bare count: say what is counted (measure count, unit item, scope)" if found.unit == "item"
                       else "subject not found in the sentence" if guess.subject is None
                       else "measure not recognised")
                entries.append((True, [f"# TODO {found.text!r} = {_decimal(found.value)} {found.unit}: {why}{dates}",
                                       "- id: TODO",
                                       f"  quantity: {{subject: {guess.subject or 'TODO'}, "
                                       f"measure: {guess.measure or 'TODO'}{commodity}, {body}}}"]))
                continue
            claim_id = base_id = f"{guess.subject}-{guess.measure}"
            suffix = 2
            while claim_id in claim_ids or not SLUG.match(claim_id):
                claim_id, suffix = f"{base_id}-{suffix}", suffix + 1
            claim_ids.add(claim_id)
            why = (f"# guessed: subject from {guess.subject_from!r}, measure from {guess.measure_from!r}"
                   + (f", commodity from {guess.commodity_from!r}" if guess.commodity else "")
                   + (f", attributed to {guess.attributed_from!r}" if guess.attributed_to else "") + dates)
            entries.append((False, [why, f"- id: {claim_id}",
                                    f"  quantity: {{subject: {guess.subject}, measure: {guess.measure}{commodity}, "
                                    f"{body}}}"]))
        quote, _, occurrence = _quote_fields(document, sentence.text, sentence.start).partition(", occurrence: ")
        block = [f"- {quote}"] + ([f"  occurrence: {occurrence}"] if occurrence else []) + ["  claims:"]
        for todo, entry in entries:
            block += ["    " + ("# " + line if todo and not line.startswith("#") else line) for line in entry]
        if all(todo for todo, _ in entries):
            fact_lines.append("  # TODO no claim could be guessed from this quote:")
            fact_lines += ["  # " + line for line in block]
        else:
            fact_lines += ["  " + line for line in block]
    if fact_lines:
        lines.append("facts:")
        lines += fact_lines
    else:
        lines.append("facts: []")
    return "\n".join(lines) + "\n"


def check_review(text: str, document: Document) -> list[str]:
    """Problems anchoring the quotes of a review file's text in `document` (empty: every quote is found)."""
    import yaml

    data = yaml.safe_load(text) or {}
    problems = []
    for entity in data.get("entities") or []:
        ev = entity.get("ev") or {}
        try:
            anchor(document, ev.get("quote", ""), occurrence=ev.get("occurrence"), prefix=ev.get("prefix"),
                   kept_only=False)
        except QuoteError as error:
            problems.append(f"entity {entity.get('id')}: {error}")
    for fact in data.get("facts") or []:
        try:
            anchor(document, fact.get("quote", ""), occurrence=fact.get("occurrence"), prefix=fact.get("prefix"))
        except QuoteError as error:
            problems.append(str(error))
    for waiver in data.get("waivers") or []:
        try:
            anchor(document, waiver.get("quote", ""), occurrence=waiver.get("occurrence"), prefix=waiver.get("prefix"))
        except QuoteError as error:
            problems.append(f"waiver: {error}")
    return problems


def _review_exists(path: Path) -> BadInputError:
    return BadInputError("exists already: a review file is never written over an existing file", path=path,
                         hint="give another file name, remove this one first, or pass --overwrite")


def check_review_target(path: Path, *, overwrite: bool = False) -> None:
    """BadInputError when `path` exists and may not be replaced: checked before any other work is done (a
    document registered by --add, say), so that a refused review file leaves nothing half done."""
    if path.exists() and not overwrite:
        raise _review_exists(path)


def write_review(result: IngestResult, path: Path, *, doc_id: str | None = None, overwrite: bool = False) -> Path:
    """Write `review_yaml(result)` to `path` atomically, after checking that every quote anchors.

    An existing file (a review being edited, curated facts) is replaced only with `overwrite`; without
    it BadInputError, even for a file another process creates meanwhile."""
    check_review_target(path, overwrite=overwrite)
    text = review_yaml(result, doc_id=doc_id)
    problems = check_review(text, result.document)
    if problems:  # pragma: no cover - a bug: the review quotes are cut from the document itself
        raise AssertionError("review file quotes do not anchor: " + "; ".join(problems))
    try:
        write_atomic(path, text.encode("utf-8"), replace=overwrite)
    except BadInputError:
        raise _review_exists(path) from None
    return path


# ---- output ----------------------------------------------------------------------------------------


def to_json(result: IngestResult) -> dict[str, Any]:
    """The result as plain JSON data (mentions, ambiguities, quantities, dates, candidates, notes)."""
    def sentence(s: Sentence) -> dict[str, Any]:
        return {"start": s.start, "end": s.end, "text": s.text}

    return {
        "name": result.name,
        "document": result.doc_id,
        "date": result.doc_date.isoformat() if result.doc_date else None,
        "date_source": result.date_source,
        "mentions": [{"surface": m.surface, "start": m.start, "end": m.end, "iri": m.iri, "entity": m.entity,
                      "label": result.lexicon.labels.get(m.iri), "method": m.method, "name": m.name}
                     for m in result.mentions],
        "ambiguous": [{"surface": a.surface, "start": a.start, "end": a.end, "candidates": list(a.candidates),
                       "names": list(a.names)} for a in result.ambiguities],
        "quantities": [{"text": q.found.text, "start": q.found.start, "end": q.found.end, "number": q.found.number,
                        "value": _decimal(q.found.value), "unit": q.found.unit,
                        "unit_iri": f"https://w3id.org/kgtool/vocab/{q.found.graph_unit}" if q.found.graph_unit else None,
                        "stated_unit": q.found.stated_unit, "qualifier": q.found.qualifier, "note": q.found.note,
                        "sentence": sentence(q.sentence), "entities": list(q.entities), "dates": list(q.dates)}
                       for q in result.quantities],
        "dates": [{"text": d.text, "start": d.start, "end": d.end, "value": d.value, "kind": d.kind,
                   "resolved": d.resolved, "rule": d.rule} for d in result.dates],
        "candidates": [{"kind": c.kind, "name": c.name, "start": c.start, "end": c.end, "type": c.type, "id": c.id,
                        "rule": c.rule, "count": c.count, "sentence": sentence(c.sentence)}
                       for c in result.candidates],
        "notes": list(result.notes),
    }


def render_text(result: IngestResult) -> str:
    """A readable report of what `ingest` found."""
    out = [f"document {result.doc_id or '(no id yet)'} ({result.name}): {len(result.document.kept)} paragraphs kept, "
           f"{len(result.document.removed)} lines removed; date "
           + (f"{result.doc_date.isoformat()} ({result.date_source})" if result.doc_date else "unknown")]
    counts = result.entity_counts()
    out.append(f"known entities: {len(result.mentions)} mentions of {len(counts)} entities")
    by_entity: dict[str, list[Mention]] = {}
    for mention in result.mentions:
        by_entity.setdefault(mention.entity, []).append(mention)
    for entity, mentions in sorted(by_entity.items(), key=lambda item: (-len(item[1]), item[0])):
        forms = Counter(m.surface for m in mentions)
        methods = Counter(m.method for m in mentions)
        out.append(f"  {entity:32} {len(mentions):3}  " + ", ".join(f'"{f}"' for f in forms)
                   + "  [" + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())) + "]")
    if result.ambiguities:
        out.append(f"ambiguous: {len(result.ambiguities)} (not linked)")
        for ambiguity in result.ambiguities:
            out.append(f"  \"{ambiguity.surface}\" at {ambiguity.start}-{ambiguity.end}: "
                       + " | ".join(c[len(str(KGR)):] for c in ambiguity.candidates))
    out.append(f"quantities: {len(result.quantities)}")
    for quantity in result.quantities:
        found = quantity.found
        unit = f"kgv:{found.graph_unit}" if found.graph_unit else f"{found.unit.upper()} (no graph unit)"
        near = f"  near {', '.join(quantity.entities)}" if quantity.entities else ""
        out.append(f"  {found.text!r} = {_decimal(found.value)} {unit}, {found.qualifier}{near}")
    out.append(f"dates: {len(result.dates)}")
    for found_date in result.dates:
        state = "resolved" if found_date.resolved else "unresolved"
        out.append(f"  {found_date.text!r} -> {found_date.value or '?'} ({found_date.kind}, {state}: {found_date.rule})")
    out.append(f"proposed new entities: {len(result.candidates)}")
    for candidate in result.candidates:
        out.append(f"  {candidate.kind:12} {candidate.name!r} as kg:{candidate.type} ({candidate.rule})")
    if result.notes:
        out.append("notes:")
        out += [f"  {note}" for note in result.notes]
    return "\n".join(out) + "\n"


# ---- accept and add -----------------------------------------------------------------------------


def _find_source(project: Project, doc_id: str) -> Path:
    found = sorted(project.sources.glob(f"{doc_id}_*.txt"))
    if len(found) != 1:
        raise BadInputError(f"document {doc_id} is not in the corpus ({project.sources})" if not found
                            else f"{len(found)} corpus files share the document id {doc_id}",
                            hint="add the document first (add_document / kgtool ingest --add)")
    return found[0]


def accept(review_file: Path, project: Project, *, overwrite: bool = False) -> Path:
    """Check a reviewed file (form, quotes, names) and place it as data/facts/<doc>.yaml, atomically."""
    top = read_yaml(review_file)
    doc_id = str(top.get("document", ""))
    if not DOC_ID.match(doc_id):
        raise BadInputError(f"'document' must be a three-digit document id, got {doc_id!r}", path=review_file, line=1)
    target = project.facts / f"{doc_id}.yaml"
    if target.exists() and not overwrite:
        raise BadInputError(f"{target} exists already", path=review_file,
                            hint="merge by hand, or pass overwrite=True (--overwrite) to replace it")
    document = read_document(_find_source(project, doc_id))
    data = review_file.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / f"{doc_id}.yaml"
        shutil.copyfile(review_file, copy)
        try:
            entities, claims, _ = _facts_file(copy)
        except BadInputError as error:
            raise BadInputError(error.message, path=review_file, line=error.line, hint=error.hint) from None
    problems = check_review(data.decode("utf-8"), document)
    curated = load_curated(project.data)
    named: list[Named] = [*curated.elements, *curated.entities]
    declared = {item.id for item in named if not (item.origin.path.name == f"{doc_id}.yaml" and overwrite)}
    for entity in entities:
        if entity.id in declared:
            problems.append(f"entity {entity.id!r} is declared already")
    known = declared | {e.id for e in entities}
    for claim in claims:
        names = [claim.attributed_to]
        if isinstance(claim, QuantityClaim):
            names += [claim.subject, claim.commodity]
        elif isinstance(claim, RelationClaim):
            names += [claim.subject, claim.object]
        problems += [f"claim {claim.id}: unknown entity {name!r}" for name in names if name and name not in known]
    if problems:
        raise BadInputError(f"{len(problems)} problem(s) in the review file:\n  " + "\n  ".join(problems),
                            path=review_file, hint="fix the review file and accept it again")
    write_atomic(target, data, replace=overwrite)  # without overwrite, not even a file created meanwhile
    return target


def next_doc_id(project: Project) -> str:
    """The next free three-digit document id (after every id in the corpus and in documents.yaml)."""
    used = {m.group(1) for p in project.sources.glob("*.txt") if (m := DOCUMENT_ID.match(p.name))}
    documents = project.data / "documents.yaml"
    if documents.exists():
        used |= set(re.findall(r"id:\s*\"(\d{3})\"", documents.read_text(encoding="utf-8")))
    number = max((int(u) for u in used), default=-1) + 1
    if number > 999:
        raise BadInputError("no free three-digit document id is left")
    return f"{number:03d}"


def _entity_by_name(project: Project, name: str, types: set[str] | None = None) -> str | None:
    """The id of the one registered entity with this name (label or alt; a URL's domain for outlets)."""
    curated = load_curated(project.data)
    wanted = {" ".join(fold(t.text) for t in tokenize(name))}
    domain = re.match(r"^(?:https?://)?(?:www\.)?([\w.-]+\.[a-z]{2,})(?:/|$)", name.strip())
    if domain:
        wanted.add(" ".join(fold(t.text) for t in tokenize(domain.group(1))))
    found = {e.id for e in curated.entities if (types is None or set(e.types) & types)
             for n in (e.label, *e.alt) if " ".join(fold(t.text) for t in tokenize(n)) in wanted}
    return found.pop() if len(found) == 1 else None


def _metadata_entry(document: Document, project: Project, language: str) -> str:
    """The documents.yaml entry of a new document: publisher, date and author found by simple rules."""
    lines = [f"  - id: \"{document.doc_id}\"", f"    language: {language}"]
    comments: list[str] = []

    def quote_of(text: str, start: int) -> str:
        return _quote_fields(document, text, start)

    for removal in document.removed:
        line = document.text[removal.span.start:removal.span.end]
        if removal.reason.startswith("source credit"):
            source = re.sub(r"^Source:\s*", "", line).strip()
            entity = _entity_by_name(project, source)
            if entity:
                lines.append(f"    publisher: {{entity: {entity}, {quote_of(line, removal.span.start)}}}")
            else:
                comments.append(f"    # publisher: {source!r} (from the line {line!r}) is not a registered entity: "
                                "register it (type MediaOutlet) and add")
                comments.append(f"    #   publisher: {{entity: <id>, {quote_of(line, removal.span.start)}}}")
        elif removal.reason.startswith("date line"):
            found = _date_of_line(line)
            if found:
                when, stated = found
                start = document.text.find(stated, removal.span.start)
                lines.append(f"    date: {{value: \"{when.isoformat()}\", {quote_of(stated, start)}}}")
        elif removal.reason.startswith("byline"):
            entity = _entity_by_name(project, line, {"Person"})
            if entity:
                lines.append(f"    author: {{entity: {entity}, {quote_of(line, removal.span.start)}}}")
            else:
                comments.append(f"    # author: {line.strip()!r} (the byline) is not a registered entity: register "
                                "it (type Person) and add")
                comments.append(f"    #   author: {{entity: <id>, {quote_of(line, removal.span.start)}}}")
    return "\n".join(lines + comments) + "\n"


def add_document(source: Path | str | bytes, project: Project, *, doc_id: str | None = None,
                 language: str = "en", max_bytes: int = MAX_BYTES) -> Path:
    """Store a new document byte-identical as corpus/sources/<NNN>_<hash>.txt and register it.

    `source` is a file, or the text (str) or bytes themselves. The entry appended to
    data/documents.yaml gives the publisher ("Source: X" line), the date (a leading date line) and
    the author (a byline) when the text has them and they name registered entities; otherwise it says
    what was found in comments. Returns the stored file's path."""
    if isinstance(source, Path):
        data = read_input(source, max_bytes=max_bytes)
        name = str(source)
    else:
        data = source.encode("utf-8") if isinstance(source, str) else source
        name = "stdin"
    text = decode_input(data, name=name, max_bytes=max_bytes)
    if not unicodedata.is_normalized("NFC", text):
        raise BadInputError("text is not in Unicode NFC", path=None if name == "stdin" else Path(name),
                            hint="normalise it once (unicodedata.normalize('NFC', text)) and add it again")
    digest = hashlib.sha256(data).hexdigest()
    for existing in sorted(project.sources.glob("*.txt")):
        if hashlib.sha256(existing.read_bytes()).hexdigest() == digest:
            raise BadInputError(f"the same text is in the corpus already as {existing.name}")
    if doc_id is None:
        doc_id = next_doc_id(project)
    elif not DOC_ID.match(doc_id) or list(project.sources.glob(f"{doc_id}_*.txt")) \
            or doc_id in re.findall(r"id:\s*\"(\d{3})\"", (project.data / "documents.yaml").read_text(encoding="utf-8")):
        raise BadInputError(f"document id {doc_id!r} is not a free three-digit id", hint=f"use {next_doc_id(project)}")
    target = project.sources / f"{doc_id}_{digest[:16]}.txt"
    document = clean(doc_id, target, text)
    documents = project.data / "documents.yaml"
    old = documents.read_text(encoding="utf-8")
    new = old + ("" if old.endswith("\n") else "\n") + _metadata_entry(document, project, language)
    write_atomic(target, data, replace=False)
    try:
        write_atomic(documents, new.encode("utf-8"))
        load_curated(project.data)
    except BaseException:
        target.unlink(missing_ok=True)
        _undo(documents, written=new, old=old)
        raise
    return target


def _undo(path: Path, *, written: str, old: str) -> None:
    """Put `old` back into `path` only if it still holds `written` (what add_document wrote): an edit a
    curator saved meanwhile is kept, and the entry add_document appended is then theirs to remove."""
    try:
        now = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if now == written:
        write_atomic(path, old.encode("utf-8"))
