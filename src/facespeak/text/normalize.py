"""English text normalisation: turn typed text into words espeak-ng reads correctly.

``normalize_text`` runs fixed, ordered rewrite stages (each a regular expression plus a
function), so what happens to a given input is predictable and easy to test:

1. fold Unicode to ASCII and remove unsupported scripts (:mod:`facespeak.text.charset`);
2. e-mail addresses, URLs and abbreviations (Mr., Dr., St., e.g., i.e., etc., vs., No.);
3. times (3:30 pm) and dates (2026-11-24, 11/24/2026, 24 Nov 2026, Nov 24th);
4. decades (1990s), money ($, £, €, ¥ with cents and k/M/bn), number + unit (5 km, 50%);
5. phone numbers, version strings, ordinals (22nd), fractions, ranges, plain numbers
   (years, negatives, decimals, thousands separators);
6. symbols (& + = @ # ° ...) and punctuation clean-up.

Conventions (US English) are listed in ``docs/text_frontend.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..core.errors import TextError
from . import number_words as nw
from .charset import fold_to_ascii

__all__ = ["normalize_text", "expand_number", "MONTHS"]

MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_BY_PREFIX = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_MONTH_RE = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_NUM = r"\d{1,3}(?:,\d{3})+|\d+"  # integer, optionally with thousands separators

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


_NEW_SENTENCE = re.compile(r"\s*$|\s+[A-Z\"(]")


def _ends_sentence(m: re.Match[str]) -> bool:
    """True if the text after ``m`` is the end or a new sentence (space + capital)."""
    return _NEW_SENTENCE.match(m.string, m.end()) is not None


def _keep_period(m: re.Match[str], words: str) -> str:
    """``words`` plus the abbreviation's final period if it also ended the sentence."""
    return words + "." if m.group(0).endswith(".") and _ends_sentence(m) else words


def _to_int(s: str) -> int:
    return int(s.replace(",", ""))


def expand_number(integer: str | None, fraction: str | None = None, negative: bool = False) -> str:
    """Digits (as typed) -> words, choosing the reading a person would use.

    A 4-digit integer 1100-2099 without separators is a year ("1984" -> "nineteen
    eighty-four"); integers with a leading zero are read digit by digit ("007"); a fraction
    part is read digit by digit after "point".
    """
    integer = integer or ""
    plain = integer.isdigit()
    if not negative and fraction is None and plain and len(integer) == 4:
        if 1100 <= int(integer) <= 2099:
            return nw.year(int(integer))
    if fraction is None and plain and len(integer) > 1 and integer.startswith("0"):
        words = nw.digits(integer)
    else:
        words = nw.decimal(str(_to_int(integer)) if integer else "", fraction or "")
    return f"minus {words}" if negative else words


# ---------------------------------------------------------------- e-mail, URLs, abbreviations
def _spell_address(s: str) -> str:
    s = re.sub(r"^(?:https?://)?(?:www\.)?", "", s).rstrip("/")
    for sym, word in (("@", " at "), (".", " dot "), ("/", " slash "), ("_", " underscore ")):
        s = s.replace(sym, word)
    return re.sub(r"[-+=?&#%~:]", " ", s)


_TITLES = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "prof": "professor", "jr": "junior",
    "sr": "senior", "mt": "mount", "capt": "captain", "gen": "general", "lt": "lieutenant",
    "col": "colonel", "sgt": "sergeant", "rev": "reverend", "hon": "honorable",
    "gov": "governor", "sen": "senator", "rep": "representative", "fig": "figure",
}
_LATIN = {
    "e.g.": "for example", "eg.": "for example", "i.e.": "that is", "ie.": "that is",
    "etc.": "et cetera", "vs.": "versus", "vs": "versus", "approx.": "approximately",
    "a.k.a.": "also known as", "aka": "also known as", "cf.": "compare", "w/": "with",
}


def _title(m: re.Match[str]) -> str:
    key = m.group(1).lower()
    if key in ("jr", "sr"):  # follow a name, so they can end a sentence
        return _keep_period(m, _TITLES[key])
    return _TITLES[key]


def _place_title(m: re.Match[str]) -> str:
    """Dr./St.: Doctor/Saint before a name ("Dr. Jones"), Drive/Street after one ("Main St.").

    A capitalised word counts as a name before the abbreviation only if it does not start a
    sentence ("Meet Dr. Jones" is a doctor, "on Elm Dr." a drive).
    """
    window = max(0, m.start() - 40)  # look back a little only: linear time on long text
    prev = re.search(r"([A-Za-z]+)\s+$", m.string[window: m.start()])
    prev_name = False
    if prev and re.fullmatch(r"[A-Z][a-z]+", prev.group(1)):
        before_prev = m.string[max(0, window + prev.start(1) - 4): window + prev.start(1)].strip()
        prev_name = bool(before_prev) and before_prev[-1] not in ".!?\u2026"
    next_name = re.compile(r"\s+[A-Z]").match(m.string, m.end()) is not None
    word = {"dr": ("doctor", "drive"), "st": ("saint", "street")}[m.group(1).lower()]
    return word[0] if next_name and not prev_name else _keep_period(m, word[1])


def _latin(m: re.Match[str]) -> str:
    return _keep_period(m, _LATIN[m.group(0).lower()])


_EARLY_RULES: list[Rule] = [
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), lambda m: _spell_address(m.group(0))),
    (re.compile(r"\b(?:https?://|www\.)[^\s]+[^\s.,;:!?)\"']"), lambda m: _spell_address(m.group(0))),
    (re.compile(r"\b(" + "|".join(_TITLES) + r")\.(?=\s)", re.I), _title),
    (re.compile(r"\b(Dr|St)\b\.?(?=[\s,;:]|$)"), _place_title),
    (re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(k) for k in sorted(_LATIN, key=len, reverse=True))
                + r")(?=[\s,;:)]|$)", re.I), _latin),
    (re.compile(r"\bNo\.\s?(?=#?\d)", re.I), lambda m: "number "),
    (re.compile(r"#(?=\d)"), lambda m: "number "),
]


# ---------------------------------------------------------------------------- times and dates
_MERIDIEM = r"(?:\s?(?P<ampm>[aApP]\.?\s?[mM]\b\.?))"


def _meridiem(m: re.Match[str]) -> str:
    ampm = m.group("ampm")
    if not ampm:
        return ""
    return _keep_period(m, " AM" if ampm[0] in "aA" else " PM")


def _clock(m: re.Match[str]) -> str:
    """"3:30 pm" -> "three thirty PM", "3:05" -> "three oh five", "15:00" -> "fifteen hundred"."""
    hour, minute = int(m.group("h")), int(m.group("min"))
    second = m.group("s")
    if hour > 24 or minute > 59 or (second is not None and int(second) > 59):
        return m.group(0)
    suffix = _meridiem(m)
    if hour == 0 and not suffix:
        hour, suffix = 12, " AM"
    words = nw.cardinal(hour)
    if minute == 0:
        words += "" if suffix else (" hundred" if hour > 12 else " o'clock")
    else:
        words += f" oh {nw.cardinal(minute)}" if minute < 10 else f" {nw.cardinal(minute)}"
    if second is not None and int(second):
        words += f" and {nw.cardinal(int(second))} seconds"
    return words + suffix


def _hour_only(m: re.Match[str]) -> str:
    hour = int(m.group("h"))
    return m.group(0) if not 1 <= hour <= 12 else nw.cardinal(hour) + _meridiem(m)


def _date_words(year: int | None, month: int, day: int | None) -> str | None:
    """US reading "November twenty-fourth, twenty twenty-six"; None if not a real date."""
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    words = MONTHS[month - 1]
    if day is not None:
        words += " " + nw.ordinal(day)
    if year is not None:
        words += ("," if day is not None else "") + " " + nw.year(year)
    return words


def _iso_date(m: re.Match[str]) -> str:
    words = _date_words(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return words or m.group(0)


def _numeric_date(m: re.Match[str]) -> str:
    """a/b/yyyy: US month/day/year; day/month/year when a > 12 (and with dots: 24.11.2026)."""
    a, b, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    month, day = (b, a) if a > 12 or m.group(2) == "." else (a, b)
    return _date_words(year, month, day) or m.group(0)


def _month_number(name: str) -> int:
    return _MONTH_BY_PREFIX[name[:4].lower() if name.lower().startswith("sept") else name[:3].lower()]


def _day_month_year(m: re.Match[str]) -> str:
    year = int(m.group("y")) if m.group("y") else None
    words = _date_words(year, _month_number(m.group("mon")), int(m.group("d")))
    return words or m.group(0)


_ORD = r"(?:st|nd|rd|th)?"
_DATE_TIME_RULES: list[Rule] = [
    (re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<min>\d{2})(?::(?P<s>\d{2}))?(?!\d)"
                + _MERIDIEM + "?"), _clock),
    (re.compile(r"(?<![\w:.,])(?P<h>\d{1,2})" + _MERIDIEM), _hour_only),
    (re.compile(r"(?<![\w-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w-])"), _iso_date),
    (re.compile(r"(?<![\w/.])(\d{1,2})([/.])(\d{1,2})\2(\d{4})(?![\w/])"), _numeric_date),
    (re.compile(r"(?<![\w.])(?P<d>\d{1,2})" + _ORD + r"(?:\s+of)?\s+(?P<mon>" + _MONTH_RE
                + r")\b\.?(?:,?\s+(?P<y>\d{4})\b)?"), _day_month_year),
    (re.compile(r"\b(?P<mon>" + _MONTH_RE + r")\.?\s+(?P<d>\d{1,2})" + _ORD
                + r"(?![\d:])(?:,?\s+(?P<y>\d{4})\b)?"), _day_month_year),
]


# ------------------------------------------------------------------------------ money, units
# symbol -> (unit singular, unit plural, subunit singular, subunit plural or None)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", None, None),
}
_MAGNITUDES = {
    "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
    "b": "billion", "B": "billion", "bn": "billion", "thousand": "thousand",
    "million": "million", "billion": "billion", "trillion": "trillion",
}


def _money(m: re.Match[str]) -> str:
    unit, units, sub, subs = _CURRENCIES[m.group("cur")]
    integer, frac, scale = m.group("int"), m.group("frac"), m.group("scale")
    minus = "minus " if m.group("neg") else ""
    if scale:  # "$1.5M" -> "one point five million dollars"
        return f"{minus}{expand_number(integer, frac)} {_MAGNITUDES[scale]} {units}"
    whole = _to_int(integer)
    if frac is not None and (sub is None or len(frac) > 2):
        return f"{minus}{nw.decimal(str(whole), frac)} {units}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{nw.cardinal(whole)} {nw.plural_noun(whole == 1, unit, units)}")
    if cents:
        parts.append(f"{nw.cardinal(cents)} {nw.plural_noun(cents == 1, sub, subs)}")
    return minus + " and ".join(parts)


# unit as typed -> (singular, plural); longest spellings first in the pattern.
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "m": ("meter", "meters"), "mi": ("mile", "miles"),
    "ft": ("foot", "feet"), "yd": ("yard", "yards"), "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"), "g": ("gram", "grams"), "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "l": ("liter", "liters"), "L": ("liter", "liters"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"), "s": ("second", "seconds"), "sec": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"), "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"), "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"), "p": ("penny", "pence"), "V": ("volt", "volts"), "x": ("times", "times"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"), "%": ("percent", "percent"),
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))


def _measure(m: re.Match[str]) -> str:
    integer, frac = m.group("int"), m.group("frac")
    one = frac is None and integer == "1" and not m.group("neg")
    singular, plural = _UNITS[m.group("unit")]
    number = expand_number(integer, frac, negative=bool(m.group("neg")))
    return f"{number} {singular if one else plural}"


def _decade(m: re.Match[str]) -> str:
    """"1990s" -> "nineteen nineties", "'80s" / "80s" -> "eighties"."""
    n = int(m.group(1))
    words = nw.year(n) if n >= 1000 else nw.cardinal(n)
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


_AMOUNT = r"(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?"
_MONEY_RULES: list[Rule] = [
    (re.compile(r"(?<![\w.])'?(\d{1,3}0)'?s\b"), _decade),
    (re.compile(r"(?<![\w.])(?P<neg>-)?(?P<cur>[$£€¥])\s?" + _AMOUNT
                + r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|[kKmMbB])\b)?"), _money),
    (re.compile(r"(?:(?<![\w.,-])(?P<neg>-))?(?<![\w.,])" + _AMOUNT + r"\s?(?P<unit>" + _UNIT_RE
                + r")(?![\w/])"), _measure),
]


# ----------------------------------------------------------------- ordinals and plain numbers
def _fraction(m: re.Match[str]) -> str:
    """Denominators 2-10 read as fractions ("three quarters"); others as "a slash b"."""
    num, den = int(m.group(1)), int(m.group(2))
    if not 2 <= den <= 10 or num == 0:
        return f"{nw.cardinal(num)} slash {nw.cardinal(den)}"
    name = {2: ("half", "halves"), 4: ("quarter", "quarters")}.get(den)
    singular, plural = name or (nw.ordinal(den), nw.ordinal(den) + "s")
    return f"{nw.cardinal(num)} {singular if num == 1 else plural}"


def _phone(m: re.Match[str]) -> str:
    """Digit groups read digit by digit with a pause: "555-1234" -> "five five five, one two ..."."""
    return ", ".join(nw.digits(g) for g in re.findall(r"\d+", m.group(0)))


def _number(m: re.Match[str]) -> str:
    return expand_number(m.group("int"), m.group("frac"), negative=bool(m.group("neg")))


_NUMBER_RULES: list[Rule] = [
    (re.compile(r"(?<![\w.])(?:\+?\d{1,3}[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])?\d{3}-\d{4}(?![\w-])"), _phone),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?![\w.]*\d)"),
     lambda m: " dot ".join(expand_number(g) for g in m.group(0).split("."))),
    (re.compile(r"(?<=\d) - (?=\d)"), lambda m: " minus "),
    (re.compile(r"(?<![\w.,])(" + _NUM + r")(?:st|nd|rd|th)\b", re.I),
     lambda m: nw.ordinal(_to_int(m.group(1)))),
    (re.compile(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w/])"), _fraction),
    (re.compile(r"(?<![\w.,-])(" + _NUM + r")-(" + _NUM + r")(?![\w.,-]*\d)"),
     lambda m: f"{expand_number(m.group(1))} to {expand_number(m.group(2))}"),
    (re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"), lambda m: " "),
    (re.compile(r"(?:(?<![\w.,-])(?P<neg>-))?(?<![\w.,])(?P<int>" + _NUM + r")?(?:\.(?P<frac>\d+))?(?<=\d)"),
     _number),
    (re.compile(r"\d+"), lambda m: f" {nw.digits(m.group(0))} "),  # leftovers such as "1.2.3"
]


# ------------------------------------------------------------------- symbols and punctuation
_SYMBOL_WORDS = {
    "&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "°": "degrees",
    "#": "hash", "<": "less than", ">": "greater than", "~": "about", "/": "slash",
    "$": "dollars", "£": "pounds", "€": "euros", "¥": "yen",
}


def _cleanup_punctuation(text: str) -> str:
    """Leave only letters, apostrophes, in-word hyphens and the punctuation espeak keeps."""
    text = re.sub(r"[\[{]", "(", text)
    text = re.sub(r"[\]}]", ")", text)
    text = re.sub(r"\.{2,}", "\u2026", text)
    text = re.sub(r"[.\u2026]*\u2026[.\u2026]*", "\u2026", text)
    text = re.sub(r"[!?]*\?[!?]*", "?", text)
    text = re.sub(r"!+", "!", text)
    text = re.sub(r"\s*(?:--+|\u2014+|(?<=\s)-(?=\s))\s*", " \u2014 ", text)
    text = re.sub(r"(?<![A-Za-z])-|-(?![A-Za-z])", " ", text)  # hyphen not inside a word
    text = re.sub(r"[^A-Za-z'\-\s.,;:!?\"()\u2014\u2026]", " ", text)
    text = re.sub(r"\s+([.,;:!?)\u2026])", r"\1", text)
    text = re.sub(r"([,;:!?)\u2026])(?=[A-Za-z(])", r"\1 ", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"([,;:])[,;:]+", r"\1", text)
    text = re.sub(r"\(\s*\)|\"\s*\"", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[\s.,;:!?)\u2014\u2026]+", "", text)


def _apply(rules: list[Rule], text: str) -> str:
    for pattern, replace in rules:
        text = pattern.sub(replace, text)
    return text


def _preview(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def normalize_text(text: str) -> str:
    """Typed English text -> speakable words (digits, symbols and abbreviations expanded).

    Raises :class:`TextError` if ``text`` is not a string, is empty or whitespace-only, or
    has no speakable English characters left after unsupported scripts are removed.
    Idempotent: normalising the output again returns it unchanged.
    """
    if not isinstance(text, str):
        raise TextError(f"expected text as a str, got {type(text).__name__}")
    if not text.strip():
        raise TextError(f"text is empty: expected at least one English word, got {text!r}")
    folded = fold_to_ascii(text).text
    if not re.search(r"[A-Za-z0-9]", folded):
        raise TextError(f"text has no speakable English characters: got {_preview(text)!r}")
    out = re.sub(r"\s+", " ", folded)
    for rules in (_EARLY_RULES, _DATE_TIME_RULES, _MONEY_RULES, _NUMBER_RULES):
        out = _apply(rules, out)
    out = re.sub(r"\b([A-G])#", r"\1 sharp", out)
    out = re.sub(r"(?<=[\s\d])([<>])(?=[\s\d])", lambda m: f" {_SYMBOL_WORDS[m.group(1)]} ", out)
    out = re.sub(r"[&+=@%°#~/$£€¥]", lambda m: f" {_SYMBOL_WORDS[m.group(0)]} ", out)
    for _ in range(4):  # the clean-up rules can enable each other: run to a fixed point
        cleaned = _cleanup_punctuation(out)
        if cleaned == out:
            break
        out = cleaned
    if not re.search(r"[A-Za-z]", out):
        raise TextError(f"text has no speakable English characters: got {_preview(text)!r}")
    return out
