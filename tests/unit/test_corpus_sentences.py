"""Sentence filter and selection for the speech corpus."""

from __future__ import annotations

import pytest

from facespeak.core.errors import InputError
from facespeak.data.sentences import (
    WORDNET_DIR,
    SentenceFilter,
    VerbForms,
    clean_sentences,
    reject_reason,
    select_diverse,
    tidy_sentence,
)

GOOD = [
    "The children played quietly in the garden",
    "She sighed sadly and walked back home.",
    "Why are you so aggressive today?",
]
BAD = [
    "He paid 20 dollars for it",            # digits
    "The price rose by 5%",                 # digits and symbols
    "He said (quietly) that he was tired",  # brackets
    "The NATO forces withdrew from the area",  # acronym
    "Someone gave something to someone else",  # WordNet placeholders
    "too short",                            # < 5 words
    " ".join(["word"] * 30),                # > 25 words
    "force out the air from the lungs",     # lower-case phrase, no subject
    "He left. She stayed at home alone.",   # two sentences
    "A & B went up the hill together",      # symbol
]


@pytest.mark.parametrize("text", GOOD)
def test_good_sentences_pass(text):
    assert reject_reason(text) is None


@pytest.mark.parametrize("text", BAD)
def test_bad_sentences_rejected(text):
    assert reject_reason(text) is not None


def test_tidy_capitalises_and_ends_with_period():
    assert tidy_sentence("  the cat  sat on the mat ") == "The cat sat on the mat."
    assert tidy_sentence("is it raining?") == "Is it raining?"


def test_clean_sentences_dedupes_and_filters():
    out = clean_sentences(["the cat sat on the mat", "The cat sat on the mat.", "It costs 5 dollars now"],
                          SentenceFilter())
    assert out == ["The cat sat on the mat."]


@pytest.mark.skipif(not (WORDNET_DIR / "index.verb").is_file(), reason="Debian wordnet-base not installed")
def test_verb_signal_rejects_noun_phrases():
    verbs = VerbForms()
    assert verbs.has_verb_signal("The salts calcified the rock.")
    assert verbs.has_verb_signal("He remembered her only hazily.")
    assert not verbs.has_verb_signal("A rash of bank robberies.")
    assert not verbs.has_verb_signal("The scummy surface of the polluted pond.")


def test_select_diverse_is_deterministic_and_prefers_new_material():
    pool = ["The cat sat on the mat."] * 1 + ["The cat sat on the mat today."] + [
        "Quick zebras vex jumping wild foxes.", "My dog barked loudly at night."]
    a = select_diverse(pool, 2, seed=3)
    assert a == select_diverse(pool, 2, seed=3)
    assert len(set(a)) == 2
    # the two near-duplicates add little over each other: at most one is chosen
    assert sum(s.startswith("The cat sat") for s in a) <= 1
    with pytest.raises(InputError):
        select_diverse(pool, 10)
