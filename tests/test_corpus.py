"""The corpus: stored byte-identical to the seeds, cleaned by code, offsets kept."""
from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from kgtool.config import Project
from kgtool.corpus import clean, read_corpus
from kgtool.errors import BadInputError

from .conftest import ROOT, missing

SEEDS = ROOT.parent / "shared" / "seeds"


def test_sources_are_byte_identical_to_the_seeds(project: Project) -> None:
    if not SEEDS.is_dir():
        missing("../shared/seeds beside the checkout", "CI runs with ../shared beside the clone")
    seeds = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SEEDS.glob("*.txt")}
    stored = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in project.sources.glob("*.txt")}
    assert stored == seeds


def test_every_document_is_nfc_utf8(project: Project) -> None:
    for document in read_corpus(project.sources).values():
        assert unicodedata.is_normalized("NFC", document.text)


def test_kept_paragraphs_map_back_to_the_stored_text(project: Project) -> None:
    for document in read_corpus(project.sources).values():
        for paragraph in document.kept:
            assert document.text[paragraph.span.start:paragraph.span.end] == paragraph.text
        spans = sorted([p.span for p in document.kept] + [r.span for r in document.removed], key=lambda s: s.start)
        assert all(a.end <= b.start for a, b in zip(spans, spans[1:])), "kept and removed spans overlap"
        covered = "".join(document.text[s.start:s.end] for s in spans)
        assert "".join(covered.split()) == "".join(document.text.split()), "some text is neither kept nor removed"


@pytest.mark.parametrize("doc_id, boilerplate", [
    ("001", "Continue Reading This Article"),
    ("001", "By registering or signing into your SRM Today account"),
    ("002", "All news..."),
    ("002", "Source: www.kommersant.ru"),
    ("003", "Sorry!!"),
    ("003", "Legal Disclaimer"),
    ("003", "kindly contact the provider above"),
    ("003", "No comment"),
    ("004", "696"),
    ("004", "Ihor Telezhnikov"),
])
def test_boilerplate_is_removed(project: Project, doc_id: str, boilerplate: str) -> None:
    document = read_corpus(project.sources)[doc_id]
    assert boilerplate in document.text
    assert boilerplate not in document.cleaned_text


def test_repeated_paragraphs_are_kept_once(project: Project) -> None:
    for document in read_corpus(project.sources).values():
        texts = [" ".join(p.text.split()) for p in document.kept]
        assert len(texts) == len(set(texts)), document.doc_id
    doc003 = read_corpus(project.sources)["003"]
    assert doc003.text.count("658 million tons") == 2
    assert doc003.cleaned_text.count("658 million tons") == 1
    assert sum(r.reason == "repeats an earlier paragraph" for r in doc003.removed) == 6


def test_cleaning_keeps_content_lines() -> None:
    text = "Headline\n\n403\nBody line one.\n\nBody line one.\nLegal Disclaimer:\nnoise\nmore noise\n\nAfter.\n"
    document = clean("999", Path("999_x.txt"), text)
    assert [p.text for p in document.kept] == ["Headline", "Body line one.", "After."]
    assert {r.reason for r in document.removed} == {"HTTP error banner", "repeats an earlier paragraph",
                                                     "legal disclaimer"}


def test_invalid_utf8_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "005_bad.txt").write_bytes(b"ok \xff\xfe not utf-8")
    with pytest.raises(BadInputError, match="not valid UTF-8"):
        read_corpus(tmp_path)
