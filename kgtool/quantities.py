"""Find quantities, dates and sentences in plain text, with code-point offsets; no RDF, no network.

A quantity is a number written in digits, with an optional scale word (thousand, million, bn,
mln ...), an optional unit (tonnes, t/yr, %, $, EUR, RUB ...) and an optional qualifier
("about", "up to" ...), normalised to the graph's units: `tonne`, `tonne-per-year`, `percent`,
`usd` and `item` (a bare count). EUR and RUB have no unit in the graph: their values are kept as
stated (`eur`, `rub`) with a note. A date is absolute ("March 2024", "December 1, 2025", "2024")
or relative ("last year", "on Tuesday"); relative dates (and dates without a year) are resolved
only against the document's own date, and say by which rule.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): index for index, name in enumerate(calendar.day_name)}
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

SCALES = {"thousand": Decimal(10) ** 3, "k": Decimal(10) ** 3, "million": Decimal(10) ** 6,
          "mln": Decimal(10) ** 6, "mn": Decimal(10) ** 6, "m": Decimal(10) ** 6,
          "billion": Decimal(10) ** 9, "bn": Decimal(10) ** 9, "bln": Decimal(10) ** 9,
          "trillion": Decimal(10) ** 12, "tn": Decimal(10) ** 12}
# Units: the graph's unit (kgv: local name, None when the graph has none) for each stated form.
CURRENCIES = {"$": "usd", "us$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd", "us dollars": "usd",
              "€": "eur", "eur": "eur", "euro": "eur", "euros": "eur",
              "rub": "rub", "₽": "rub", "rouble": "rub", "roubles": "rub", "ruble": "rub", "rubles": "rub"}
GRAPH_UNITS = {"tonne": "tonne", "tonne-per-year": "tonne-per-year", "percent": "percent", "usd": "usd",
               "item": "item", "eur": None, "rub": None}
QUALIFIERS = (
    (re.compile(r"\b(?:approximately|about|around|roughly|some|nearly|almost|circa|c\.)\s*$", re.IGNORECASE),
     "approximately"),
    (re.compile(r"\b(?:up to|at most|no more than|not more than|(?:does|do|did) not exceed|not exceeding|below|under|"
                r"less than|fewer than)\s*$", re.IGNORECASE), "at-most"),
    (re.compile(r"\b(?:more than|over|above|in excess of|exceeding)\s*$", re.IGNORECASE), "more-than"),
    (re.compile(r"\b(?:at least|no less than|not less than)\s*$", re.IGNORECASE), "at-least"),
)

_CUR_PRE = r"(?P<cur>US\$|\$|€|₽|(?:USD|EUR|RUB)(?=\s?\d))"
_NUMBER = r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_SCALE = r"(?P<scale>thousand|million|billion|trillion|mln|bln|bn|mn|tn)\b\.?|(?P<sscale>[mk])\b"
_UNIT = (r"(?P<pct>%|per\s?cent\b|percent\b|pct\b)"
         r"|(?P<kt>kt\b|Mt\b)"
         r"|(?P<t>(?:metric\s+)?(?:tonnes?|tons?|tone)\b|t\b(?!-))"
         r"|(?P<cur_post>US\s+dollars?\b|dollars?\b|USD\b|euros?\b|EUR\b|roubles?\b|rubles?\b|RUB\b)")
QUANTITY = re.compile(
    rf"(?<![\w.,])(?:{_CUR_PRE}\s?)?(?<![\w.,]){_NUMBER}(?![\d])"
    rf"(?:\s?(?:{_SCALE}))?(?:\s?(?:{_UNIT}))?")
PER_YEAR = re.compile(r"(?:\s+of\s+(?:[\w-]+\s+){0,3}?[\w-]+)?\s*(?:/\s*(?:yr|year|y|a)\b|per\s+(?:year|annum)\b|"
                      r"a\s+year\b|annually\b|pa\b|tpa\b)")
YEAR = re.compile(r"(?<![\w$€.,/-])(?P<year>1[89]\d\d|20\d\d)(?![\w%/-]|[.,]\d)")


@dataclass(frozen=True)
class DateMention:
    """A date in the text: its value in the curated date forms when known, and how it was resolved."""

    text: str
    start: int
    end: int
    value: str | None        # YYYY-MM-DD, YYYY-MM, YYYY, --MM-DD, --MM; None when nothing can be said
    kind: str                # "absolute" or "relative"
    resolved: bool           # True when the value is complete (has its year) or a relative date was resolved
    rule: str                # how the value was obtained, or why it was not


@dataclass(frozen=True)
class QuantityMention:
    """A number with its scale, unit and qualifier, normalised to the graph's units."""

    text: str                # the quantity as stated ("approximately 8,000 tons of concentrate per year")
    start: int
    end: int
    number: str              # the digits as written ("8,000")
    number_start: int
    value: Decimal           # in `unit`, scale words resolved
    unit: str                # tonne, tonne-per-year, percent, usd, eur, rub, item
    stated_unit: str         # the unit as written ("tons ... per year", "$", "" for a bare count)
    qualifier: str           # exactly, approximately, at-most, more-than, at-least
    note: str | None = None  # e.g. "EUR: the graph has no unit for it; kept as stated"

    @property
    def graph_unit(self) -> str | None:
        """The kgv: unit's local name, or None (EUR, RUB) when the graph has no such unit."""
        return GRAPH_UNITS[self.unit]


# ---- sentences -------------------------------------------------------------------------------

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "no", "nos", "vs", "etc", "inc", "ltd", "co", "corp", "jr", "sr",
                  "prof", "gen", "gov", "sen", "rep", "fig", "approx", "est", "dept", "univ", "jan", "feb", "mar",
                  "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "i.e", "e.g", "cf", "al"}
_BOUNDARY = re.compile(r"[.!?…]+[\"”’»)]*(?=\s+[\"“‘«(]?[A-Z0-9])|[.!?…]+[\"”’»)]*$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a paragraph: a full stop, ! or ? before a capital or digit,
    except after an abbreviation (Mr., U.S., an initial) or inside a number."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = re.search(r"([\w.]+)$", text[start:match.start()])
        word = before.group(1).lower() if before else ""
        if match.group().startswith(".") and (word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", word)):
            continue
        end = match.end()
        if text[start:end].strip():
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            spans.append((start + lead, end))
        start = end
    if text[start:].strip():
        lead = len(text[start:]) - len(text[start:].lstrip())
        spans.append((start + lead, len(text.rstrip())))
    return spans


# ---- dates ----------------------------------------------------------------------------------

_DATE_PATTERNS = (
    ("iso", re.compile(r"(?<![\d-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d-])")),
    ("mdy", re.compile(rf"\b(?P<mon>{_MONTH}) (?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (?P<y>\d{{4}})\b)?"
                       rf"(?P<rel> (?:this|last|next) year\b)?")),
    ("dmy", re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<mon>{_MONTH})(?:,? (?P<y>\d{{4}})\b)?")),
    ("my", re.compile(rf"\b(?P<mon>{_MONTH}),? (?P<y>\d{{4}})\b")),
    ("m", re.compile(rf"\b(?P<prep>[Ii]n|[Bb]y|[Ss]ince|[Uu]ntil|[Tt]ill|[Bb]efore|[Aa]fter|[Ff]rom|[Oo]f|[Ll]ast|[Nn]ext|"
                     rf"[Tt]his|[Ee]arly|[Ll]ate|[Ee]nd of|[Mm]id-?) (?P<mon>{_MONTH})\b(?! \d)")),
    ("relative", re.compile(r"\b(?:(?P<edge>[Aa]t the (?:end|beginning|start) of|[Ee]arlier|[Ll]ater) )?"
                            r"(?P<which>last|this|next|past|[Ll]ast|[Tt]his|[Nn]ext) (?P<unit>year|month|week)\b")),
    ("in-year", re.compile(r"\b[Ee]arlier (?:in|this) (?:the )?year\b|\b[Ll]ater (?:in|this) (?:the )?year\b")),
    ("day", re.compile(r"\b(?P<word>[Yy]esterday|[Tt]oday|[Tt]omorrow)\b")),
    ("weekday", re.compile(rf"\b(?P<prep>[Oo]n|[Ll]ast) (?P<wd>{_WEEKDAY})\b")),
    ("same-day", re.compile(r"\b[Oo]n the same day\b|\b[Tt]hat (?:same )?day\b")),
)
_FUTURE_PREPOSITIONS = {"by", "until", "till", "before", "next"}


def _month(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _resolve(kind: str, match: re.Match[str], doc_date: date | None) -> tuple[str | None, bool, str, str]:
    """(value, resolved, rule, absolute|relative) for one date match."""
    g = match.groupdict()
    known = f"the document date {doc_date.isoformat()}" if doc_date else ""
    if kind == "iso":
        return f"{g['y']}-{g['m']}-{g['d']}", True, "stated in full", "absolute"
    if kind in ("mdy", "dmy"):
        month, day = _month(g["mon"]), int(g["d"])
        if not 1 <= day <= 31:
            return None, False, "not a day of the month", "absolute"
        if g.get("y"):
            return f"{g['y']}-{month:02d}-{day:02d}", True, "stated in full", "absolute"
        if g.get("rel"):
            which = g["rel"].split()[0]
            if doc_date is None:
                return f"--{month:02d}-{day:02d}", False, f"'{which} year' needs the document's date, which is unknown", "relative"
            year = doc_date.year + {"this": 0, "last": -1, "next": 1}[which]
            return f"{year}-{month:02d}-{day:02d}", True, f"'{which} year' resolved against {known}", "relative"
        if doc_date is None:
            return f"--{month:02d}-{day:02d}", False, "no year stated and the document's date is unknown", "absolute"
        return (f"{doc_date.year}-{month:02d}-{day:02d}", True,
                f"no year stated: the year of {known}", "relative")
    if kind == "my":
        return f"{g['y']}-{_month(g['mon']):02d}", True, "stated in full", "absolute"
    if kind == "m":
        month, prep = _month(g["mon"]), g["prep"].lower().rstrip("-")
        if doc_date is None:
            return f"--{month:02d}", False, "no year stated and the document's date is unknown", "absolute"
        if prep in ("this",):
            year = doc_date.year
        elif prep in _FUTURE_PREPOSITIONS:
            year = doc_date.year if month >= doc_date.month else doc_date.year + 1
        else:
            year = doc_date.year if month <= doc_date.month else doc_date.year - 1
        direction = "next" if prep in _FUTURE_PREPOSITIONS else "latest"
        return (f"{year}-{month:02d}", True,
                f"no year stated: the {direction} {calendar.month_name[month]} relative to {known} ('{prep}')", "relative")
    if kind == "relative":
        which, unit = g["which"].lower(), g["unit"]
        which = "last" if which == "past" else which
        delta = {"last": -1, "this": 0, "next": 1}[which]
        edge = (g.get("edge") or "").lower()
        if doc_date is None:
            return None, False, f"'{which} {unit}' needs the document's date, which is unknown", "relative"
        if unit == "year":
            note = f"; '{edge}' is kept in the text, the value is the year" if edge else ""
            return str(doc_date.year + delta), True, f"'{which} year' resolved against {known}{note}", "relative"
        if unit == "month":
            year, month = _shift_month(doc_date.year, doc_date.month, delta)
            return f"{year}-{month:02d}", True, f"'{which} month' resolved against {known}", "relative"
        return None, False, f"'{which} week' has no date form of its own (week precision)", "relative"
    if kind == "in-year":
        if doc_date is None:
            return None, False, "'in the year' needs the document's date, which is unknown", "relative"
        return str(doc_date.year), True, f"the year of {known}", "relative"
    if kind == "day":
        word = g["word"].lower()
        if doc_date is None:
            return None, False, f"'{word}' needs the document's date, which is unknown", "relative"
        when = doc_date + timedelta(days={"yesterday": -1, "today": 0, "tomorrow": 1}[word])
        return when.isoformat(), True, f"'{word}' resolved against {known}", "relative"
    if kind == "weekday":
        weekday = WEEKDAYS[g["wd"].lower()]
        if doc_date is None:
            return None, False, f"'{match.group()}' needs the document's date, which is unknown", "relative"
        back = (doc_date.weekday() - weekday) % 7
        if g["prep"].lower() == "last" and back == 0:
            back = 7
        when = doc_date - timedelta(days=back)
        return (when.isoformat(), True,
                f"the latest {g['wd']} on or before {known} (a past event is assumed)", "relative")
    return None, False, "refers to a date given earlier in the text; resolve it by reading", "relative"


def find_dates(text: str, *, doc_date: date | None = None, offset: int = 0) -> list[DateMention]:
    """Dates in `text` (offsets shifted by `offset`), longest first, without overlaps; years alone last."""
    found: list[DateMention] = []

    def free(start: int, end: int) -> bool:
        return all(end <= d.start - offset or start >= d.end - offset for d in found)

    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            value, resolved, rule, how = _resolve(kind, match, doc_date)
            found.append(DateMention(match.group(), offset + match.start(), offset + match.end(), value, how,
                                     resolved, rule))
    for match in YEAR.finditer(text):
        if not free(match.start(), match.end()):
            continue
        after = text[match.end():match.end() + 16]
        if re.match(rf"\s?(?:{_SCALE}|{_UNIT})", after) and not re.match(r"\s?(?:to|and)\b", after):
            continue
        found.append(DateMention(match.group(), offset + match.start(), offset + match.end(), match.group("year"),
                                 "absolute", True, "a year"))
    return sorted(found, key=lambda d: d.start)


# ---- quantities -------------------------------------------------------------------------------

def _qualifier(before: str) -> str:
    for pattern, name in QUALIFIERS:
        if pattern.search(before):
            return name
    return "exactly"


def find_quantities(text: str, *, offset: int = 0, skip: list[tuple[int, int]] | None = None) -> list[QuantityMention]:
    """Quantities in `text`; numbers inside the `skip` spans (dates, absolute offsets) are left out."""
    skip = skip or []
    found: list[QuantityMention] = []
    for match in QUANTITY.finditer(text):
        number_start = offset + match.start("num")
        if any(start <= number_start < end for start, end in skip):
            continue
        if text[match.end():match.end() + 1].isalnum():
            continue   # part of a word or formula ("Y2O3", "5G")
        g = match.groupdict()
        value = Decimal(g["num"].replace(",", ""))
        scale_word = (g.get("scale") or g.get("sscale") or "").rstrip(".")
        currency = g.get("cur") or g.get("cur_post")
        if g.get("sscale") and not currency:
            scale_word = ""   # "m" and "k" are scales only after a currency ("$15m")
        end = match.end("num")
        if scale_word:
            value *= SCALES[scale_word.lower()]
            end = match.end("scale") if g.get("scale") else match.end("sscale")
        unit, stated, note = "item", "", None
        unit_group = next((k for k in ("pct", "kt", "t", "cur_post") if g.get(k)), None)
        if unit_group:
            end = match.end(unit_group)
        if g.get("pct"):
            unit, stated = "percent", g["pct"]
        elif g.get("kt"):
            unit, stated = "tonne", g["kt"]
            value *= Decimal(1000) if g["kt"] == "kt" else Decimal(10) ** 6
        elif g.get("t"):
            unit, stated = "tonne", g["t"]
        elif currency:
            unit, stated = CURRENCIES[currency.lower()], currency
        if unit == "tonne":
            per_year = PER_YEAR.match(text, end)
            if per_year:
                unit, stated = "tonne-per-year", text[match.start(unit_group or "t"):per_year.end()]
                end = per_year.end()
        if unit in ("eur", "rub"):
            note = f"{unit.upper()}: the graph has no unit for it; the value is kept as stated"
        start = match.start()
        look = text[max(0, start - 40):start]
        qualifier = _qualifier(look)
        qualifier_match = next((p.search(look) for p, name in QUALIFIERS if p.search(look)), None)
        stated_start = start - (len(look) - qualifier_match.start()) if qualifier_match else start
        stated_text = text[stated_start:end].rstrip(" ,")
        end = stated_start + len(stated_text)
        found.append(QuantityMention(
            text=stated_text, start=offset + stated_start, end=offset + end, number=g["num"],
            number_start=number_start, value=value, unit=unit, stated_unit=stated, qualifier=qualifier, note=note))
    return found
