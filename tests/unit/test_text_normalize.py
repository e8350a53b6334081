"""English normalisation: numbers, dates, times, money, units, abbreviations, Unicode."""

from __future__ import annotations

import logging
import re

import pytest

from facespeak.core.errors import TextError
from facespeak.text import normalize_text
from facespeak.text import number_words as nw
from facespeak.text.charset import fold_to_ascii


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (42, "forty-two"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1001, "one thousand one"),
        (1_234_567, "one million two hundred thirty-four thousand five hundred sixty-seven"),
        (2_000_000_000, "two billion"),
        (-15, "minus fifteen"),
    ],
)
def test_cardinal(n: int, words: str) -> None:
    assert nw.cardinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (8, "eighth"), (9, "ninth"),
     (12, "twelfth"), (20, "twentieth"), (22, "twenty-second"), (101, "one hundred first"),
     (1000, "one thousandth")],
)
def test_ordinal(n: int, words: str) -> None:
    assert nw.ordinal(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [(1984, "nineteen eighty-four"), (1905, "nineteen oh five"), (1900, "nineteen hundred"),
     (2000, "two thousand"), (2007, "two thousand seven"), (2010, "twenty ten"),
     (2026, "twenty twenty-six")],
)
def test_year(n: int, words: str) -> None:
    assert nw.year(n) == words


def test_huge_integer_read_digit_by_digit() -> None:
    assert nw.cardinal(nw.MAX_CARDINAL + 1).split()[:2] == ["one", "zero"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have 3 cats.", "I have three cats."),
        ("It was 1984.", "It was nineteen eighty-four."),
        ("Pi is 3.14", "Pi is three point one four"),
        ("It is -5 outside", "It is minus five outside"),
        ("1,234,567 people", "one million two hundred thirty-four thousand five hundred sixty-seven people"),
        ("Agent 007", "Agent zero zero seven"),
        ("the 22nd and the 1st", "the twenty-second and the first"),
        ("in the 1990s", "in the nineteen nineties"),
        ("pages 10-20", "pages ten to twenty"),
        ("5 - 3 = 2", "five minus three equals two"),
        ("3/4 cup", "three quarters cup"),
        ("50% off", "fifty percent off"),
        ("3.5 % growth", "three point five percent growth"),
    ],
)
def test_numbers(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    "text",
    ["24 Nov 2026", "24 November 2026", "2026-11-24", "11/24/2026", "24/11/2026", "24.11.2026",
     "Nov 24, 2026", "November 24th, 2026", "24th of November 2026"],
)
def test_dates_all_read_us_style(text: str) -> None:
    assert normalize_text(text) == "November twenty-fourth, twenty twenty-six"


def test_ambiguous_numeric_date_is_month_first() -> None:
    assert normalize_text("5/6/2026") == "May sixth, twenty twenty-six"


def test_invalid_date_is_not_read_as_a_date() -> None:
    assert "November" not in normalize_text("2026-13-45")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 3:30 pm", "at three thirty PM"),
        ("at 3:30pm.", "at three thirty PM."),
        ("at 3:05", "at three oh five"),
        ("at 3:00", "at three o'clock"),
        ("at 15:45", "at fifteen forty-five"),
        ("at 7 a.m. today", "at seven AM today"),
        ("at 9 PM", "at nine PM"),
    ],
)
def test_times(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$5", "five dollars"),
        ("$1", "one dollar"),
        ("$5.50", "five dollars and fifty cents"),
        ("$1.01", "one dollar and one cent"),
        ("$0.99", "ninety-nine cents"),
        ("£3.20", "three pounds and twenty pence"),
        ("€2.5", "two euros and fifty cents"),
        ("$1.5M", "one point five million dollars"),
        ("$3k", "three thousand dollars"),
        ("$1,000,000", "one million dollars"),
        ("¥500", "five hundred yen"),
        ("-$20", "minus twenty dollars"),
    ],
)
def test_currency(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 km", "one kilometer"),
        ("5 km", "five kilometers"),
        ("2.5kg", "two point five kilograms"),
        ("30 cm", "thirty centimeters"),
        ("20°C", "twenty degrees Celsius"),
        ("90°", "ninety degrees"),
        ("60 mph", "sixty miles per hour"),
        ("2x faster", "two times faster"),
    ],
)
def test_units(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith and Mrs. Jones", "mister Smith and missus Jones"),
        ("Dr. Who", "doctor Who"),
        ("I live on Main St. It is nice.", "I live on Main street. It is nice."),
        ("I saw St. Paul", "I saw saint Paul"),
        ("cats, dogs, etc. are pets", "cats, dogs, et cetera are pets"),
        ("apples, pears etc.", "apples, pears et cetera."),
        ("fruit, e.g. apples", "fruit, for example apples"),
        ("one, i.e. the first", "one, that is the first"),
        ("cats vs. dogs", "cats versus dogs"),
        ("No. 5", "number five"),
    ],
)
def test_abbreviations(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("salt & pepper", "salt and pepper"),
        ("2 + 2", "two plus two"),
        ("meet @ noon", "meet at noon"),
        ("we're #1", "we're number one"),
        ("mail bob@example.com", "mail bob at example dot com"),
        ("Wait... what?!", "Wait\u2026 what?"),
        ("yes -- no", "yes \u2014 no"),
        ("[aside]", "(aside)"),
    ],
)
def test_symbols_and_punctuation(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_accents_and_typography_fold_to_ascii() -> None:
    assert normalize_text("Caf\u00e9 na\u00efve \u201cquoted\u201d \u2018it\u2019s\u2019 Stra\u00dfe") == (
        "Cafe naive \"quoted\" 'it's' Strasse"
    )


def test_other_scripts_removed_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="facespeak.text.charset"):
        out = normalize_text("Hello \u4e16\u754c world \U0001F600 \u043f\u0440\u0438\u0432\u0435\u0442!")
    assert out == "Hello world!"
    message = " ".join(r.getMessage() for r in caplog.records)
    for ch in "\u4e16\u754c\U0001F600\u043f":
        assert ch in message


def test_fold_reports_dropped_characters_in_order() -> None:
    result = fold_to_ascii("a\u4e16b\u754cc\u4e16")
    assert result.text == "a b c "
    assert result.dropped == ("\u4e16", "\u754c")


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_raises(text: str) -> None:
    with pytest.raises(TextError, match="empty"):
        normalize_text(text)


@pytest.mark.parametrize("text", ["\u4f60\u597d\u4e16\u754c", "\U0001F600\U0001F600", "\u0645\u0631\u062d\u0628\u0627", "!!! ???"])
def test_unspeakable_text_raises_with_the_input(text: str) -> None:
    with pytest.raises(TextError, match="no speakable English characters: got") as info:
        normalize_text(text)
    assert text[:2] in str(info.value)


def test_non_string_raises() -> None:
    with pytest.raises(TextError, match="expected text as a str, got bytes"):
        normalize_text(b"hello")  # type: ignore[arg-type]


_MIXED = [
    "Mr. Smith paid $5.50 for 3 apples on 24 Nov 2026 at 3:30 pm.",
    "In 1984, the 22nd of May, 50% of 1,234 people walked 5 km & ran 2.5 mi.",
    "Version 1.2.3, call 555-1234, C# and C++ -- really?!",
]


@pytest.mark.parametrize("text", _MIXED)
def test_output_has_no_digits_or_symbols_and_is_idempotent(text: str) -> None:
    out = normalize_text(text)
    assert re.fullmatch(r"[A-Za-z' \-.,;:!?\"()\u2014\u2026]+", out), out
    assert normalize_text(out) == out
