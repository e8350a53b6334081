"""The versioned symbol table and blank interspersing."""

from __future__ import annotations

import pytest

from facespeak.text import symbols as sym


def test_layout_pad_first_blank_last_no_duplicates() -> None:
    assert sym.SYMBOLS[0] == sym.PAD and sym.PAD_ID == 0
    assert sym.SYMBOLS[-1] == sym.BLANK and sym.BLANK_ID == sym.VOCAB_SIZE - 1
    assert len(set(sym.SYMBOLS)) == sym.VOCAB_SIZE
    assert sym.SYMBOLS[1 : 1 + len(sym.PUNCTUATION)] == sym.PUNCTUATION


def test_table_contains_stress_length_and_letters() -> None:
    for s in ["ˈ", "ˌ", "ː", "ə", "ɚ", "θ", "ð", "ŋ", "ɹ", "ʃ", "ʒ", "æ", "ɡ", "ᵻ", "ɾ"]:
        assert sym.symbol_to_id(s) is not None, s
    for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        assert sym.symbol_to_id(letter) is not None, letter


def test_table_is_frozen_for_version_1() -> None:
    # Changing the table breaks every trained model: bump SYMBOL_TABLE_VERSION instead.
    assert sym.SYMBOL_TABLE_VERSION == 1
    assert sym.VOCAB_SIZE == 113
    assert sym.symbol_table_fingerprint() == "6fcce0dec459d939"


@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_intersperse_blank_shape_and_positions(n: int) -> None:
    ids = list(range(1, n + 1))
    out = sym.intersperse_blank(ids)
    assert len(out) == 2 * n + 1
    assert out[0::2] == [sym.BLANK_ID] * (n + 1)
    assert out[1::2] == ids


def test_unknown_symbols_dropped_pad_never_produced() -> None:
    ids = sym.phonemes_to_ids("hə\u4e16lˈoʊ_")
    assert sym.PAD_ID not in ids and sym.BLANK_ID not in ids
    assert sym.ids_to_phonemes(ids) == "həlˈoʊ"


def test_round_trip_of_every_symbol() -> None:
    text = "".join(sym.SYMBOLS[1:-1])
    ids = sym.phonemes_to_ids(text)
    assert ids == list(range(1, sym.VOCAB_SIZE - 1))
    assert sym.ids_to_phonemes(ids) == text
