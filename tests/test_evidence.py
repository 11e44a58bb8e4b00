"""Quote anchoring: exact after whitespace normalisation, never a lookalike, never ambiguous."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgtool.corpus import clean
from kgtool.evidence import QuoteError, anchor, occurrences

TEXT = "Alpha beta.\n\nGamma   delta\u00a0epsilon.\nAlpha beta.\n\nSorry!!\nZeta alpha beta eta.\n"
DOC = clean("900", Path("900_test.txt"), TEXT)


def test_whitespace_runs_match_any_whitespace() -> None:
    found = anchor(DOC, "Gamma delta epsilon")
    assert found.exact == "Gamma   delta\u00a0epsilon"
    assert TEXT[found.span.start:found.span.end] == found.exact


def test_quote_not_found_is_an_error_not_a_lookalike() -> None:
    with pytest.raises(QuoteError, match="not found"):
        anchor(DOC, "Gamma delta epsilons!")
    with pytest.raises(QuoteError, match="not found"):
        anchor(DOC, "gamma delta")  # case matters


def test_repeated_paragraph_resolves_to_the_kept_copy() -> None:
    found = anchor(DOC, "Alpha beta.")
    assert found.span.start == 0


def test_ambiguous_quote_needs_occurrence_or_prefix() -> None:
    with pytest.raises(QuoteError, match="occurs 2 times"):
        anchor(DOC, "beta")
    assert anchor(DOC, "beta", prefix="Zeta alpha").span.start == TEXT.index("Zeta") + len("Zeta alpha ")
    with pytest.raises(QuoteError, match="occurrence 5"):
        anchor(DOC, "beta", occurrence=5)


def test_removed_text_is_refused_for_claims_but_allowed_for_metadata() -> None:
    with pytest.raises(QuoteError, match="removed text"):
        anchor(DOC, "Sorry!!")
    assert anchor(DOC, "Sorry!!", kept_only=False).exact == "Sorry!!"


def test_prefix_and_suffix_are_the_surrounding_text() -> None:
    found = anchor(DOC, "delta")
    assert found.prefix.endswith("Gamma   ")
    assert found.suffix.startswith("\u00a0epsilon.")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
       st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=60))
def test_every_substring_is_found_where_it_is(filler: str, start: int, length: int) -> None:
    text = "Lorem ipsum dolor sit amet, " + filler + " consectetur\n adipiscing elit, sed do eiusmod tempor."
    start = start % len(text)
    quote = text[start:start + length]
    if not quote.strip():
        return
    document = clean("901", Path("901_p.txt"), text)
    spans = occurrences(document, quote)
    assert spans, "a substring of the text must be found"
    assert any(" ".join(text[s.start:s.end].split()) == " ".join(quote.split()) for s in spans)
