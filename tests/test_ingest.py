"""Ingest of new articles: linking measured against gold files, quantities, dates, proposals, the review
file, accept/add end to end, leave-one-out, and bad input."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from pathlib import Path

import pytest
import yaml
from rdflib import Graph, Literal, URIRef

from kgtool.build import BuildResult, build
from kgtool.config import Project
from kgtool.corpus import Document, clean, read_corpus
from kgtool.curated import _facts_file, load_curated
from kgtool.errors import BadInputError
from kgtool.evidence import anchor
from kgtool.ingest import (
    MAX_BYTES,
    IngestResult,
    accept,
    add_document,
    check_review,
    decode_input,
    ingest,
    ingest_bytes,
    ingest_file,
    load_variants,
    next_doc_id,
    project_lexicon,
    render_text,
    review_yaml,
    to_json,
    write_review,
)
from kgtool.linker import Lexicon, Linker, fold, inflect, variant
from kgtool.namespaces import KG, KGCLAIM, KGDOC, KGEV, KGR, PROV, RDF, RDFS, SKOS, XSD
from kgtool.quantities import find_dates, find_quantities, sentence_spans

DATA = Path(__file__).parent / "data" / "ingest"
GOLD = DATA / "gold"
TEXTS = DATA / "texts"
SOURCES = ("000", "001", "002", "003", "004")
STYLE_TEXTS = ("wire-style", "official-transliteration", "headline-caps", "new-article", "blind-analysis")

# ---- gold files and scoring ---------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    mentions: frozenset[tuple[int, int, str]]            # (start, end, entity id)
    quantities: frozenset[tuple[int, Decimal, str]]      # (number start, value, unit)


def _in_kept(document: Document, start: int, end: int) -> bool:
    return any(p.span.start <= start and end <= p.span.end for p in document.kept)


def load_gold(name: str, document: Document) -> Gold:
    """Resolve a gold file's texts, in order, to offsets in the document's kept paragraphs."""
    data = yaml.safe_load((GOLD / f"{name}.yaml").read_text(encoding="utf-8"))
    mentions = set()
    position = 0
    for surface, entity in data["mentions"]:
        pattern = re.compile(r"(?<!\w)" + re.escape(surface) + r"(?!\w)")
        match = pattern.search(document.text, position)
        while match and not _in_kept(document, match.start(), match.end()):
            match = pattern.search(document.text, match.end())
        assert match, f"gold {name}: {surface!r} not found after offset {position}"
        mentions.add((match.start(), match.end(), entity))
        position = match.end()
    quantities = set()
    position = 0
    for item in data.get("quantities") or []:
        start = document.text.find(item["text"], position)
        while start != -1 and not _in_kept(document, start, start + len(item["text"])):
            start = document.text.find(item["text"], start + 1)
        assert start != -1, f"gold {name}: quantity {item['text']!r} not found after offset {position}"
        number = re.search(r"\d", item["text"])
        assert number
        quantities.add((start + number.start(), Decimal(str(item["value"])), item["unit"]))
        position = start + len(item["text"])
    return Gold(frozenset(mentions), frozenset(quantities))


@dataclass(frozen=True)
class Score:
    true: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return self.true / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true / self.gold if self.gold else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(self.true + other.true, self.predicted + other.predicted, self.gold + other.gold)

    def __str__(self) -> str:
        return f"P {self.precision:.3f} ({self.true}/{self.predicted})  R {self.recall:.3f} ({self.true}/{self.gold})"


def score(result: IngestResult, gold: Gold) -> tuple[Score, Score, set[tuple[int, int, str]], set[tuple[int, int, str]]]:
    """Entity and quantity scores, and the false positives and negatives of the linker."""
    predicted = {(m.start, m.end, m.entity) for m in result.mentions}
    quantities = {(q.found.number_start, q.found.value, q.found.unit) for q in result.quantities}
    entities = Score(len(predicted & gold.mentions), len(predicted), len(gold.mentions))
    numbers = Score(len(quantities & gold.quantities), len(quantities), len(gold.quantities))
    return entities, numbers, predicted - gold.mentions, gold.mentions - predicted


def _source_text(doc_id: str) -> tuple[Path, str]:
    path = next(Path(__file__).resolve().parent.parent.joinpath("corpus", "sources").glob(f"{doc_id}_*.txt"))
    return path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def lexicon(built: BuildResult, project: Project) -> Lexicon:
    return project_lexicon(built.graph, project)


@pytest.fixture(scope="session")
def source_results(built: BuildResult, lexicon: Lexicon) -> dict[str, IngestResult]:
    results = {}
    for doc_id in SOURCES:
        path, text = _source_text(doc_id)
        results[doc_id] = ingest(text, graph=built.graph, name=str(path), lexicon=lexicon)
    return results


# ---- measured: precision and recall against the gold files ------------------------------------------------


def test_linker_and_quantities_against_gold_on_the_five_sources(source_results: dict[str, IngestResult]) -> None:
    """Precision and recall of the known-entity linker and of the quantity finder on the five sources.

    The gold files (tests/data/ingest/gold/NNN.yaml, annotation rules in ../README.md) were written by
    reading the documents. Floors: recall and precision >= 0.95 overall for entities (the issue's
    target) and >= 0.90 for each document, so that one document cannot hide behind the others; the
    same floors for quantities (value and unit must both be right). Measured when written: entities
    P 1.000 R 1.000 on 264 gold mentions, quantities P 1.000 R 1.000 on 35 — the floors leave room
    for corpus edits, not for a weaker linker.
    """
    total_entities = total_numbers = Score(0, 0, 0)
    report = []
    for doc_id, result in source_results.items():
        gold = load_gold(doc_id, result.document)
        entities, numbers, extra, missed = score(result, gold)
        report.append(f"{doc_id}: entities {entities}; quantities {numbers}; extra {sorted(extra)}; missed {sorted(missed)}")
        assert entities.recall >= 0.90 and entities.precision >= 0.90, "\n".join(report)
        assert numbers.recall >= 0.90 and numbers.precision >= 0.90, "\n".join(report)
        total_entities, total_numbers = total_entities + entities, total_numbers + numbers
    report.append(f"all: entities {total_entities}; quantities {total_numbers}")
    print("\n".join(report))
    assert total_entities.recall >= 0.95 and total_entities.precision >= 0.95, "\n".join(report)
    assert total_numbers.recall >= 0.95 and total_numbers.precision >= 0.95, "\n".join(report)


@pytest.mark.parametrize("name", STYLE_TEXTS)
def test_linker_generalises_to_texts_in_other_styles(name: str, built: BuildResult, lexicon: Lexicon) -> None:
    """Texts written for the tests in other styles (trade names, abbreviations, transliterations,
    capitals, symbols): the same floors as the sources, per text (0.95 each; measured 1.000).

    blind-analysis.txt was written and annotated after the linker was finished and scored on its first
    run without changes to the linker: entities P 1.000 R 1.000 (24), quantities P 1.000 R 1.000 (8).
    (That first run proposed "Geological Survey" as a person; "Survey" is an organisation word since.)"""
    path = TEXTS / f"{name}.txt"
    result = ingest_file(path, graph=built.graph, lexicon=lexicon)
    entities, numbers, extra, missed = score(result, load_gold(name, result.document))
    message = f"{name}: entities {entities}; quantities {numbers}; extra {sorted(extra)}; missed {sorted(missed)}"
    print(message)
    assert entities.recall >= 0.95 and entities.precision >= 0.95, message
    assert numbers.recall >= 0.95 and numbers.precision >= 0.95, message


def test_variant_forms_link_by_the_method_that_explains_them(built: BuildResult, lexicon: Lexicon) -> None:
    results = {name: ingest_file(TEXTS / f"{name}.txt", graph=built.graph, lexicon=lexicon)
               for name in ("wire-style", "official-transliteration", "headline-caps")}
    methods = {(m.surface, m.entity): m.method for r in results.values() for m in r.mentions}
    assert methods[("Solikamsk Magnesium Works", "solikamsk-magnesium-plant")] == "variant"   # Works / Plant
    assert methods[("Murmansk Region", "murmansk-oblast")] == "variant"                       # Region / Oblast
    assert methods[("Murmanskaya Oblast", "murmansk-oblast")] == "inflection"                # adjectival ending
    assert methods[("Tomtor deposit", "tomtorskoye")] == "inflection"                        # -skoye
    assert methods[("Atomredmetzoloto", "rosatom-nedra")] == "variant"                       # t/d
    assert methods[("ARMZ", "rosatom-nedra")] == "variant"                                   # data/variants.yaml
    assert methods[("Vladimir Vladimirovich Putin", "vladimir-putin")] == "variant"          # patronymic
    assert methods[("Mishustin M.V.", "mikhail-mishustin")] == "variant"                     # initials
    assert methods[("Mišustin", "mikhail-mishustin")] == "variant"                           # ISO 9 š
    assert methods[("Nd", "neodymium")] == "symbol"
    assert methods[("rare", "rare-metals")] == "coordination"
    assert methods[("RUSSIA", "russia")] == "folded"
    assert methods[("Russia’s", "russia")] == "inflection"
    # traps: the verb "lead", the pronoun "us", "Rare Metals" inside a firm's name
    surfaces = {m.surface for m in results["headline-caps"].mentions}
    assert not {"Lead", "us", "Rare Metals"} & surfaces


# ---- linker units ------------------------------------------------------------------------------------


def _graph(*entities: tuple[str, str, list[str], str]) -> Graph:
    graph = Graph()
    for entity_id, label, alts, type_name in entities:
        node = KGR[entity_id]
        graph.add((node, RDF.type, KG[type_name]))
        graph.add((node, RDFS.label, Literal(label, lang="en")))
        for alt in alts:
            graph.add((node, SKOS.altLabel, Literal(alt, lang="en")))
    return graph


def test_a_name_shared_by_two_entities_is_ambiguous_and_never_linked() -> None:
    graph = _graph(("smz-plant", "Solikamsk Magnesium Plant", ["SMZ"], "ProcessingPlant"),
                   ("smz-bank", "Samara Municipal Bank", ["SMZ"], "Company"),
                   ("ivan-petrov", "Ivan Petrov", [], "Person"), ("olga-petrov", "Olga Petrov", [], "Person"))
    linker = Linker(Lexicon.from_graph(graph))
    mentions, ambiguities = linker.link_paragraph("SMZ said that Petrov and Solikamsk Magnesium Plant agreed.")
    assert [(a.surface, a.candidates) for a in ambiguities] == [
        ("SMZ", (str(KGR["smz-bank"]), str(KGR["smz-plant"]))),
        ("Petrov", (str(KGR["ivan-petrov"]), str(KGR["olga-petrov"])))]
    assert [(m.surface, m.entity, m.method) for m in mentions] == [
        ("Solikamsk Magnesium Plant", "smz-plant", "exact-label")]


def test_longest_match_wins_and_offsets_are_code_points_into_the_original_text(lexicon: Lexicon,
                                                                                built: BuildResult) -> None:
    text = "  Ünïcode ✓ line\r\n\r\nThe Rosatom Nedra unit and Rosatom’s plant.\r\n"
    result = ingest(text, graph=built.graph, lexicon=lexicon)
    found = [(m.surface, m.entity, text[m.start:m.end]) for m in result.mentions]
    assert found == [("Rosatom Nedra", "rosatom-nedra", "Rosatom Nedra"), ("Rosatom’s", "rosatom", "Rosatom’s")]


def test_acronyms_match_in_capitals_only_and_symbols_only_in_a_chemical_context(lexicon: Lexicon) -> None:
    linker = Linker(lexicon)
    mentions, _ = linker.link_paragraph("Let us see: the EU and the Eu said Y. Nd is a name; Plan B. "
                                        "Ores with 2% Nd and Pr oxides, yttrium (Y) and lead ore.")
    found = [(m.surface, m.entity, m.method) for m in mentions]
    assert ("EU", "european-union", "alt-label") in found
    assert not any(s in ("us", "Eu") for s, _, _ in found)
    assert [s for s, _, method in found if method == "symbol"] == ["Nd", "Pr", "Y"]
    assert ("lead", "lead", "exact-label") in found          # "lead ore": chemical context
    mentions, _ = linker.link_paragraph("Efforts lead to partnerships; Y is a letter and Nd alone is not a symbol.")
    assert mentions == []


def test_folding_and_variant_keys() -> None:
    assert fold("Mišustin") == "mishustin" and fold("Росатом") == "rosatom" and fold("U.S.") == "us"
    assert inflect("tomtorskoye") == inflect("tomtor") == "tomtor"
    assert inflect("murmanskaya") == inflect("murmansk") == "murman"
    assert inflect("metals") == "metal" and inflect("ministries") == "ministry" and inflect("tass") == "tass"
    assert variant("atomredmetzoloto") == variant("atomredmedzoloto")
    assert variant("oblast") == variant("region") and variant("works") == variant("plant")
    assert variant("dmitriy") == variant("dmitrii") == variant("dmitry")
    assert variant("mikhail") == variant("mihail")


# ---- quantities and dates -------------------------------------------------------------------------


def test_quantities_are_normalised_to_the_graph_units_and_eur_rub_are_kept_with_a_note() -> None:
    text = ("Output was 390 thousand. tone, about 8,000 tons of concentrate per year, 3,500 t/yr, 5 kt and 1.5 Mt; "
            "up to 15%, 70 per cent, 1 pct; $15 billion, US$2.5 bn, USD 3 mln, €130 million and RUB 12 billion.")
    found = {q.text: (q.value, q.unit, q.qualifier, q.graph_unit) for q in find_quantities(text)}
    assert found == {
        "390 thousand. tone": (Decimal(390000), "tonne", "exactly", "tonne"),
        "about 8,000 tons of concentrate per year": (Decimal(8000), "tonne-per-year", "approximately", "tonne-per-year"),
        "3,500 t/yr": (Decimal(3500), "tonne-per-year", "exactly", "tonne-per-year"),
        "5 kt": (Decimal(5000), "tonne", "exactly", "tonne"),
        "1.5 Mt": (Decimal(1500000), "tonne", "exactly", "tonne"),
        "up to 15%": (Decimal(15), "percent", "at-most", "percent"),
        "70 per cent": (Decimal(70), "percent", "exactly", "percent"),
        "1 pct": (Decimal(1), "percent", "exactly", "percent"),
        "$15 billion": (Decimal(15) * 10 ** 9, "usd", "exactly", "usd"),
        "US$2.5 bn": (Decimal("2.5") * 10 ** 9, "usd", "exactly", "usd"),
        "USD 3 mln": (Decimal(3) * 10 ** 6, "usd", "exactly", "usd"),
        "€130 million": (Decimal(130) * 10 ** 6, "eur", "exactly", None),
        "RUB 12 billion": (Decimal(12) * 10 ** 9, "rub", "exactly", None),
    }
    notes = [q.note for q in find_quantities(text) if q.note]
    assert notes == ["EUR: the graph has no unit for it; the value is kept as stated",
                     "RUB: the graph has no unit for it; the value is kept as stated"]
    assert [q.number for q in find_quantities("Y2O3 and 5G, but 2,600 tons")] == ["2,600"]


def test_dates_absolute_and_relative_resolved_only_against_a_known_document_date() -> None:
    text = ("In March 2024, on December 1, 2025 and on 1 December 2025, in 2024, 2025-11-04; at the end of last year, "
            "last month, on Tuesday, this year, by December, In April, February 24 this year, earlier in the year.")
    undated = {d.text: (d.value, d.resolved) for d in find_dates(text)}
    assert undated["March 2024"] == ("2024-03", True)
    assert undated["December 1, 2025"] == ("2025-12-01", True)
    assert undated["1 December 2025"] == ("2025-12-01", True)
    assert undated["2024"] == ("2024", True)
    assert undated["2025-11-04"] == ("2025-11-04", True)
    assert undated["at the end of last year"] == (None, False)
    assert undated["on Tuesday"] == (None, False)
    assert undated["by December"] == ("--12", False)
    assert undated["February 24 this year"] == ("--02-24", False)
    dated = {d.text: d for d in find_dates(text, doc_date=date(2025, 2, 26))}
    assert dated["at the end of last year"].value == "2024" and dated["at the end of last year"].resolved
    assert "2025-02-26" in dated["at the end of last year"].rule
    assert dated["last month"].value == "2025-01"
    assert dated["on Tuesday"].value == "2025-02-25"            # 2025-02-26 is a Wednesday
    assert dated["this year"].value == "2025"
    assert dated["by December"].value == "2025-12"             # a deadline: the next December
    assert dated["In April"].value == "2024-04"                # a past month: the latest April
    assert dated["February 24 this year"].value == "2025-02-24"
    assert dated["earlier in the year"].value == "2025"


def test_sentences_do_not_split_at_abbreviations_or_decimals() -> None:
    text = "Mr. Putin met U.S. envoys on Feb. 3 at 10.5 km. Mishustin M.V. agreed. It was 1%. world output."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Mr. Putin met U.S. envoys on Feb. 3 at 10.5 km.", "Mishustin M.V. agreed.", "It was 1%. world output."]


def test_the_documents_own_date_line_resolves_relative_dates(source_results: dict[str, IngestResult]) -> None:
    result = source_results["002"]
    assert result.doc_date == date(2025, 2, 26) and "February 26, 2025" in (result.date_source or "")
    dates = {d.text: d for d in result.dates}
    assert dates["At the end of last year"].value == "2024" and dates["At the end of last year"].resolved
    assert dates["On the same day"].value is None and not dates["On the same day"].resolved
    undated = {d.text: d for d in source_results["003"].dates}
    assert not undated["on Tuesday"].resolved and not undated["last month"].resolved


# ---- proposals, review file, output --------------------------------------------------------------


def test_new_organisations_people_and_places_are_proposed(built: BuildResult, lexicon: Lexicon) -> None:
    proposals = {}
    for name in ("wire-style", "headline-caps", "new-article"):
        result = ingest_file(TEXTS / f"{name}.txt", graph=built.graph, lexicon=lexicon)
        proposals.update({c.name: (c.kind, c.type) for c in result.candidates})
    assert proposals == {
        "Lovozero Mining and Processing Plant": ("organisation", "ProcessingPlant"),
        "Kola Peninsula": ("place", "GeographicFeature"),
        "Kola Rare Metals LLC": ("organisation", "Company"),
        "Ivan Petrov": ("person", "Person"),
        "Ministry of Industry and Trade": ("organisation", "GovernmentBody"),
        "Lovozero Mining Company": ("organisation", "Company"),
    }


def test_proposals_in_the_blind_text(built: BuildResult, lexicon: Lexicon) -> None:
    result = ingest_file(TEXTS / "blind-analysis.txt", graph=built.graph, lexicon=lexicon)
    assert {c.name: c.type for c in result.candidates} == {
        "Perm Territory": "Region", "Lovozero deposit": "Deposit", "Dmitry Kuznetsov": "Person",
        "Geological Survey": "GovernmentBody"}


def test_known_names_are_not_proposed_again(source_results: dict[str, IngestResult]) -> None:
    assert all(not r.candidates for r in source_results.values()), \
        {d: [c.name for c in r.candidates] for d, r in source_results.items()}


@pytest.mark.parametrize("doc_id", SOURCES)
def test_the_review_file_is_curated_yaml_whose_quotes_all_anchor(doc_id: str, source_results: dict[str, IngestResult],
                                                                   tmp_path: Path) -> None:
    result = source_results[doc_id]
    path = write_review(result, tmp_path / f"{doc_id}.yaml")
    text = path.read_text(encoding="utf-8")
    assert check_review(text, result.document) == []
    _facts_file(path)                                   # the curated loader accepts its form
    data = yaml.safe_load(text)
    assert data["document"] == doc_id
    for fact in data["facts"] or []:
        found = anchor(result.document, fact["quote"], occurrence=fact.get("occurrence"))
        assert result.document.is_kept(found.span)


def test_the_review_file_prefills_claims_it_can_guess(source_results: dict[str, IngestResult]) -> None:
    data = yaml.safe_load(review_yaml(source_results["002"]))
    claims = {c["id"]: c["quantity"] for fact in data["facts"] for c in fact["claims"]}
    assert claims["russia-reserves"] == {"subject": "russia", "measure": "reserves", "commodity": "rare-earth-metals",
                                         "value": 28700000, "unit": "tonne", "as_stated": "28.7 million tons",
                                         "attributed_to": "rosnedra"}
    assert claims["tomtorskoye-reserves-3"]["commodity"] == "rare-earth-oxides"
    assert claims["russia-supply-capacity"]["unit"] == "tonne-per-year"
    assert "# TODO '$15 billion'" in review_yaml(source_results["002"])


def test_a_review_file_needs_a_document_id(built: BuildResult, lexicon: Lexicon) -> None:
    result = ingest("Rosatom said so.", graph=built.graph, lexicon=lexicon)
    with pytest.raises(BadInputError, match="three-digit id"):
        review_yaml(result)
    assert 'document: "007"' in review_yaml(result, doc_id="007")


def test_json_and_text_outputs(source_results: dict[str, IngestResult]) -> None:
    result = source_results["002"]
    data = json.loads(json.dumps(to_json(result)))
    assert set(data) == {"name", "document", "date", "date_source", "mentions", "ambiguous", "quantities", "dates",
                         "candidates", "notes"}
    first = data["mentions"][0]
    assert first == {"surface": "Vladimir Putin", "start": first["start"], "end": first["start"] + 14,
                     "iri": str(KGR["vladimir-putin"]), "entity": "vladimir-putin", "label": "Vladimir Putin",
                     "method": "exact-label", "name": "Vladimir Putin"}
    assert result.document.text[first["start"]:first["end"]] == "Vladimir Putin"
    quantity = next(q for q in data["quantities"] if q["text"] == "78 thousand tons")
    assert quantity["value"] == "78000" and quantity["unit_iri"] == "https://w3id.org/kgtool/vocab/tonne"
    assert "ak-sugsky" in quantity["entities"]
    text = render_text(result)
    assert "known entities:" in text and "quantities: 19" in text and "'At the end of last year' -> 2024" in text


# ---- performance and bad input -------------------------------------------------------------------


@pytest.mark.parametrize("doc_id", SOURCES)
def test_ingest_of_a_source_is_the_same_with_a_fresh_lexicon(doc_id: str, built: BuildResult, project: Project,
                                                            source_results: dict[str, IngestResult]) -> None:
    """How fast ingest is, is measured in bench/ (no timing assertion in the tests): here, that a lexicon
    built afresh gives the same result as the session's."""
    path, text = _source_text(doc_id)
    again = ingest(text, graph=built.graph, name=str(path), lexicon=project_lexicon(built.graph, project))
    assert to_json(again) == to_json(source_results[doc_id])


def test_invalid_utf8_is_refused_with_its_byte_offset(tmp_path: Path, built: BuildResult, lexicon: Lexicon) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes("Rosatom – ".encode() + b"\xff\xfe rest")
    with pytest.raises(BadInputError, match=r"not valid UTF-8 at byte offset 12 \(byte 0xff\)"):
        ingest_file(path, graph=built.graph, lexicon=lexicon)


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n "])
def test_an_empty_file_is_refused_with_a_clear_message(content: bytes, tmp_path: Path, built: BuildResult,
                                                      lexicon: Lexicon) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="empty document: nothing to ingest"):
        ingest_file(path, graph=built.graph, lexicon=lexicon)


def test_a_binary_file_is_refused(tmp_path: Path, built: BuildResult, lexicon: Lexicon) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(BadInputError, match=r"binary file \(NUL byte at byte offset 8\)"):
        ingest_file(path, graph=built.graph, lexicon=lexicon)


def test_a_50_mb_file_is_refused_at_once_without_reading_it(tmp_path: Path, built: BuildResult,
                                                            lexicon: Lexicon) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as stream:          # sparse: 50 MB long, nothing written
        stream.truncate(50 * 1024 * 1024)
    opened: list[Path] = []
    real_open = Path.open

    def watched(self: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(self)
        return real_open(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:  # refused by its size: the file is never opened
        patch.setattr(Path, "open", watched)
        patch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read"))
        with pytest.raises(BadInputError, match=r"52428800 bytes, above the limit of 5242880 bytes \(5 MiB\)"):
            ingest_file(path, graph=built.graph, lexicon=lexicon)
    assert path not in opened
    with pytest.raises(BadInputError, match="above the limit"):   # stdin: the caller reads MAX_BYTES + 1
        ingest_bytes(b"a" * (MAX_BYTES + 1), graph=built.graph, lexicon=lexicon)


def test_missing_files_and_folders_are_bad_input(tmp_path: Path, built: BuildResult, lexicon: Lexicon) -> None:
    with pytest.raises(BadInputError, match="file not found"):
        ingest_file(tmp_path / "nope.txt", graph=built.graph, lexicon=lexicon)
    with pytest.raises(BadInputError, match="is a folder"):
        ingest_file(tmp_path, graph=built.graph, lexicon=lexicon)


def test_decode_input_checks_in_order() -> None:
    assert decode_input(b"Hello") == "Hello"
    with pytest.raises(BadInputError, match="stdin: a binary file"):
        decode_input(b"\xff\x00")


def test_text_that_is_only_boilerplate_gives_an_empty_result_with_a_note(built: BuildResult,
                                                                         lexicon: Lexicon) -> None:
    result = ingest("403\nSorry!!\n", graph=built.graph, lexicon=lexicon)
    assert not result.mentions and "the cleaner removed every line: nothing left to link" in result.notes


# ---- variants file -------------------------------------------------------------------------------


def test_variants_file_is_loaded_and_checked(project: Project, tmp_path: Path) -> None:
    variants = load_variants(project.data / "variants.yaml")
    assert "ARMZ" in variants["rosatom-nedra"] and "SMZ" in variants["solikamsk-magnesium-plant"]
    entities = {e.id: e for e in load_curated(project.data).entities}
    corpus = " ".join(d.text for d in read_corpus(project.sources).values())
    for entity_id, names in variants.items():
        assert entity_id in entities
        for name in names:       # the variants file holds only names the sources do not use
            assert not re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", corpus), name
    bad = tmp_path / "variants.yaml"
    bad.write_text("variants:\n  rosatom:\n    - {name: Rosatom Corp}\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="name, source"):
        load_variants(bad)
    assert load_variants(tmp_path / "missing.yaml") == {}


# ---- leave one out -----------------------------------------------------------------------------------


def graph_without(graph: Graph, doc_id: str) -> tuple[Graph, set[str]]:
    """The graph as if document `doc_id` had never been curated: its document node, claims and evidence
    removed, and the entities known only from it (no evidence elsewhere, no other claim using them)."""
    mine = (str(KGCLAIM) + f"{doc_id}-", str(KGEV) + f"{doc_id}-", str(KGDOC[doc_id]))
    reduced = Graph()
    for triple in graph:
        if not str(triple[0]).startswith(mine):
            reduced.add(triple)
    removed = set()
    for entity in {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(str(KGR))}:
        evidence = list(graph.objects(entity, KG.hasEvidence))
        if not evidence:
            continue                       # background data (elements): known whatever is left out
        sources = {str(graph.value(e, URIRef("http://www.w3.org/ns/oa#hasSource"))) for e in evidence}
        elsewhere = sources - {str(KGDOC[doc_id])}
        used = any(str(claim).startswith(str(KGCLAIM)) and not str(claim).startswith(mine[0])
                   for claim in graph.subjects(None, entity))
        if not elsewhere and not used:
            removed.add(str(entity)[len(str(KGR)):])
            for triple in list(reduced.triples((entity, None, None))):
                reduced.remove(triple)
    return reduced, removed


@pytest.mark.parametrize("doc_id", SOURCES)
def test_leave_one_out_finds_the_shared_entities_and_the_new_quantities(doc_id: str, built: BuildResult,
                                                                       project: Project, tmp_path: Path) -> None:
    """Ingest each source against the graph built from the other four: every shared entity is found
    (recall >= 0.95 of the gold mentions of entities the reduced graph knows, each shared entity at
    least once), nothing links to an entity the reduced graph does not know, every quantity is found
    (the source's own claims are gone, so all its quantities are new), and the review file anchors."""
    reduced, removed = graph_without(built.graph, doc_id)
    assert not list(reduced.subjects(PROV.wasDerivedFrom, KGDOC[doc_id]))
    path, text = _source_text(doc_id)
    result = ingest(text, graph=reduced, name=str(path), lexicon=project_lexicon(reduced, project))
    gold = load_gold(doc_id, result.document)
    shared = frozenset(m for m in gold.mentions if m[2] not in removed)
    # A name inside a longer name whose entity was left out is a mention in its own right now ("niobium"
    # in "niobium oxide", "Rosatom" in "Rosatom Nedra"): neither required nor counted against precision.
    left_out = [(s, e) for s, e, entity in gold.mentions if entity in removed]
    nested = [m for m in result.mentions if any(s <= m.start and m.end <= e for s, e in left_out)]
    scored = replace(result, mentions=tuple(m for m in result.mentions if m not in nested))
    entities, numbers, _, _ = score(scored, Gold(shared, gold.quantities))
    assert not {m.entity for m in result.mentions} & removed
    assert entities.recall >= 0.95 and entities.precision >= 0.95, f"{doc_id}: {entities}"
    assert {m[2] for m in shared} <= {m.entity for m in result.mentions}
    assert numbers.recall >= 0.95 and numbers.precision >= 0.95, f"{doc_id}: {numbers}"
    review = write_review(result, tmp_path / f"{doc_id}.yaml")
    assert check_review(review.read_text(encoding="utf-8"), result.document) == []
    proposed = {c.id for c in result.candidates}
    print(f"leave out {doc_id}: {len(removed)} entities known only from it, {len(shared)} shared mentions; "
          f"entities {entities}; quantities {numbers}; inside left-out names {[m.surface for m in nested]}; "
          f"proposed {sorted(proposed)}")


def test_leave_one_out_proposes_the_firms_known_only_from_the_left_out_document(built: BuildResult,
                                                                               project: Project) -> None:
    """Without 002's curation, 10 of the 18 entities 002 alone names are proposed back (measured: the
    deposits, the firms with a legal form or an organisation word, the people); single words with no
    such word (Intergeo, Rosnedra, NFC) and common nouns (ore, rare earth oxides) are not."""
    reduced, removed = graph_without(built.graph, "002")
    assert {"pauerite-limited", "first-mining-company", "intergeo", "tomtorskoye"} <= removed
    path, text = _source_text("002")
    result = ingest(text, graph=reduced, name=str(path), lexicon=project_lexicon(reduced, project))
    proposed = {c.name: c.type for c in result.candidates}
    assert proposed["Tomtorskoye niobium and rare earth metals deposit"] == "Deposit"
    assert proposed["Pavlovsky lead-zinc deposit"] == "Deposit"
    assert proposed["Ak-Sugsky subsurface area"] == "SubsoilArea"
    assert proposed["Pauerite Limited"] == "Company"
    assert proposed["First Mining Company"] == "Company"
    assert proposed["PROMISING MINING PROJECTS JSC"] == "Company"
    assert proposed["Mikhail Prokhorov"] == "Person"


# ---- add, accept, build: end to end ---------------------------------------------------------------


def test_ingest_add_accept_then_build_contains_the_new_claims(project_copy: Project, tmp_path: Path) -> None:
    graph = build(project_copy).graph
    lexicon = project_lexicon(graph, project_copy)
    article = TEXTS / "new-article.txt"
    doc_id = next_doc_id(project_copy)
    assert doc_id == "005"
    result = ingest_file(article, graph=graph, lexicon=lexicon, doc_id=doc_id)
    assert result.doc_date == date(2025, 3, 3)
    review = write_review(result, tmp_path / "review-005.yaml")
    stored = add_document(article, project_copy)
    assert stored.name.startswith("005_") and stored.read_bytes() == article.read_bytes()
    documents = (project_copy.data / "documents.yaml").read_text(encoding="utf-8")
    assert '  - id: "005"\n    language: en\n    date: {value: "2025-03-03", quote: "March 3, 2025"}' in documents
    assert "# publisher: 'Interfax'" in documents and "# author: 'Anna Smirnova'" in documents
    target = accept(review, project_copy)
    assert target == project_copy.facts / "005.yaml" and target.read_bytes() == review.read_bytes()
    rebuilt = build(project_copy).graph
    claim = KGCLAIM["005-tomtorskoye-reserves"]
    assert (claim, KG.claimSubject, KGR["tomtorskoye"]) in rebuilt
    assert (claim, KG.value, Literal("1700000.0", datatype=XSD.decimal)) in rebuilt
    assert (KGCLAIM["005-lovozero-mining-company-processing-volume"], KG.claimSubject,
            KGR["lovozero-mining-company"]) in rebuilt
    assert (KGR["lovozero-mining-company"], RDF.type, KG.Company) in rebuilt
    assert (KGDOC["005"], URIRef("http://purl.org/dc/terms/date"), Literal("2025-03-03", datatype=XSD.date)) in rebuilt
    with pytest.raises(BadInputError, match="exists already"):
        accept(review, project_copy)
    assert accept(review, project_copy, overwrite=True) == target
    with pytest.raises(BadInputError, match="in the corpus already as 005_"):
        add_document(article, project_copy)


def test_add_document_finds_registered_publisher_and_author(project_copy: Project) -> None:
    text = "date 2025-12-01\nRosatom plans more.\n\nSource: Noah Wire Services\n\nIhor Telezhnikov\n"
    stored = add_document(text, project_copy, doc_id="009")
    assert stored.name.startswith("009_") and stored.read_text(encoding="utf-8") == text
    entry = (project_copy.data / "documents.yaml").read_text(encoding="utf-8").split('- id: "009"')[1]
    assert 'publisher: {entity: noah-wire-services, quote: "Source: Noah Wire Services"}' in entry
    assert 'date: {value: "2025-12-01", quote: "date 2025-12-01"}' in entry
    assert 'author: {entity: ihor-telezhnikov, quote: "Ihor Telezhnikov"}' in entry
    assert next_doc_id(project_copy) == "010"
    build(project_copy)                          # the new entry and document build
    with pytest.raises(BadInputError, match="not a free three-digit id"):
        add_document("Other text.", project_copy, doc_id="009")


def test_add_document_refuses_text_not_in_nfc(project_copy: Project) -> None:
    with pytest.raises(BadInputError, match="not in Unicode NFC"):
        add_document("Cafe\u0301 news about Rosatom.", project_copy)
    assert next_doc_id(project_copy) == "005" and not list(project_copy.sources.glob("005_*"))


def test_accept_refuses_bad_review_files(project_copy: Project, tmp_path: Path) -> None:
    add_document(TEXTS / "new-article.txt", project_copy)
    review = tmp_path / "review.yaml"
    cases = {
        'document: "006"\nfacts: []\n': "document 006 is not in the corpus",
        'document: "005"\nfacts:\n  - quote: "Rosatom will invest $2 billion."\n    claims: []\n': "quote not found",
        ('document: "005"\nentities:\n  - {id: rosatom, type: Company, label: Rosatom, '
         'ev: {doc: "005", quote: "Rosatom will invest"}}\n'): "'rosatom' is declared already",
        ('document: "005"\nfacts:\n  - quote: "Rosatom will invest $1.2 billion in the project by 2030."\n    claims:\n'
         '      - id: x\n        quantity: {subject: nobody, measure: investment, value: 1, unit: usd, as_stated: "1"}\n'):
            "unknown entity 'nobody'",
        'document: "005"\nfacts:\n  - quote: "x"\n    claims:\n      - id: TODO\n': "must be a lower-case slug",
    }
    for text, message in cases.items():
        review.write_text(text, encoding="utf-8")
        with pytest.raises(BadInputError, match=message):
            accept(review, project_copy)
    assert not (project_copy.facts / "005.yaml").exists()


def test_ingest_never_touches_the_network_or_the_project(built: BuildResult, lexicon: Lexicon,
                                                         project: Project) -> None:
    before = sorted((p, p.stat().st_mtime_ns) for p in project.data.rglob("*.yaml"))
    ingest_file(TEXTS / "wire-style.txt", graph=built.graph, lexicon=lexicon)
    assert sorted((p, p.stat().st_mtime_ns) for p in project.data.rglob("*.yaml")) == before


def test_cleaning_keeps_offsets_into_the_given_text(built: BuildResult, lexicon: Lexicon) -> None:
    _, text = _source_text("003")
    result = ingest(text, graph=built.graph)        # the default lexicon: the graph + data/variants.yaml
    assert {m.entity for m in result.mentions} == {m.entity for m in ingest(text, graph=built.graph,
                                                                          lexicon=lexicon).mentions}
    assert result.document.kept == clean("new", Path("stdin"), text).kept
    assert all(text[m.start:m.end] == m.surface for m in result.mentions)
    assert all(text[q.found.start:q.found.end] == q.found.text for q in result.quantities)
    assert all(text[d.start:d.end] == d.text for d in result.dates)
