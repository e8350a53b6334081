"""Numbers spelled out as US-English words.

Pure functions on integers and digit strings; the regular expressions that find numbers in
running text live in :mod:`facespeak.text.normalize`. Conventions (see ``docs/text_frontend.md``):
no "and" inside cardinals ("one hundred five"), hyphens for 21-99 ("forty-two"), decimals read
digit by digit after "point", years in pairs ("nineteen eighty-four", "twenty twenty-six").
"""

from __future__ import annotations

__all__ = [
    "MAX_CARDINAL",
    "cardinal",
    "ordinal",
    "year",
    "decimal",
    "digits",
    "plural_noun",
]

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
MAX_CARDINAL = 10 ** (3 * len(_SCALES)) - 1

# Ordinal forms of the words a cardinal can end with; all other words just take "th".
_ORDINAL_WORD = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] if ones == 0 else f"{_TENS[tens]}-{_ONES[ones]}"


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest or not hundreds:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def cardinal(n: int) -> str:
    """Integer -> words: ``1234`` -> "one thousand two hundred thirty-four".

    Negative numbers get "minus". Magnitudes above :data:`MAX_CARDINAL` (just under 10^18)
    are read digit by digit.
    """
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n < 1000:
        return _below_thousand(n)
    groups = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            name = _SCALES[scale]
            groups.append(f"{_below_thousand(group)} {name}".strip())
        scale += 1
    return " ".join(reversed(groups))


def ordinal(n: int) -> str:
    """Integer -> ordinal words: ``22`` -> "twenty-second", ``100`` -> "one hundredth"."""
    words = cardinal(n)
    head, sep, last = max(words.rpartition(" "), words.rpartition("-"), key=lambda p: len(p[0]))
    if last in _ORDINAL_WORD:
        last = _ORDINAL_WORD[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{last}"


def year(n: int) -> str:
    """Year -> words as people say it.

    ``1984`` -> "nineteen eighty-four", ``1905`` -> "nineteen oh five", ``1900`` -> "nineteen
    hundred", ``2000`` -> "two thousand", ``2007`` -> "two thousand seven", ``2026`` -> "twenty
    twenty-six". Years outside 1000-9999 (and the 2000-2009 / x000 cases) are plain cardinals.
    """
    if not 1000 <= n <= 9999 or n % 1000 == 0 or 2000 < n < 2010:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{_below_hundred(high)} hundred"
    if low < 10:
        return f"{_below_hundred(high)} oh {_ONES[low]}"
    return f"{_below_hundred(high)} {_below_hundred(low)}"


def digits(s: str) -> str:
    """Digit string -> one word per digit: ``"007"`` -> "zero zero seven"."""
    assert s.isdigit(), s
    return " ".join(_ONES[int(c)] for c in s)


def decimal(integer_part: str, fraction_part: str) -> str:
    """``("3", "14")`` -> "three point one four"; an empty integer part reads as "point ..."."""
    head = cardinal(int(integer_part)) if integer_part else ""
    tail = digits(fraction_part) if fraction_part else ""
    return " ".join(w for w in (head, "point", tail) if w) if tail else head


def plural_noun(count_is_one: bool, singular: str, plural: str | None = None) -> str:
    """Choose ``singular`` when the count is exactly one, else ``plural`` (default: +"s")."""
    return singular if count_is_one else (plural or singular + "s")
