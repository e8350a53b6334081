"""Clean English sentences for the speech corpus, from WordNet 3.0 gloss examples.

Source: Debian package ``wordnet-base`` (``/usr/share/wordnet/data.{noun,verb,adj,adv}``),
WordNet 3.0 licence (permissive, BSD-like: use, copy, modify and distribute with the copyright
notice). Each synset gloss may end with quoted usage examples (``"the bird flew away"``); we keep
those that read as complete, speakable sentences and reject the rest instead of normalising them:

- 5..25 words, only letters, spaces, apostrophes, hyphens inside words, and ``, ; : ! ? .``;
  no digits, quotes, brackets, slashes, ``&``, ``%``, ``$`` or other symbols;
- no all-capital tokens of 2+ letters (acronyms read differently by every engine);
- no WordNet placeholders (``someone``/``something`` templates, ``one's``), no ``etc``;
- starts with a capital letter (WordNet capitalises full-sentence examples; lower-case examples
  are mostly phrases), or with a subject pronoun/determiner;
- no word longer than 18 letters;
- has a verb signal (noun/adjective/adverb glosses often quote bare phrases such as "a rash of
  bank robberies"): an auxiliary/modal/copula or contraction, or a past/3rd-person form of a
  WordNet verb lemma (regular ``-ed``/``-s`` or listed in ``verb.exc``). Examples from verb
  glosses are exempt: they illustrate a verb in use.

Kept sentences are tidied (first letter capitalised, final ``.`` added) and de-duplicated.
:func:`select_diverse` then picks a phonetically varied subset greedily by coverage of letter
trigrams and word types (an orthographic proxy for phone coverage), seeded and deterministic.
"""

from __future__ import annotations

import functools
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from facespeak.core.errors import DependencyError, InputError

__all__ = [
    "SentenceFilter",
    "WORDNET_DIR",
    "reject_reason",
    "tidy_sentence",
    "wordnet_examples",
    "VerbForms",
    "clean_sentences",
    "select_diverse",
    "load_sentences",
]

log = logging.getLogger(__name__)

WORDNET_DIR = Path("/usr/share/wordnet")
_POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z ,;:!?.'\-]*$")
_QUOTE = re.compile(r'"([^"]+)"')
_PLACEHOLDERS = {"someone", "somebody", "something", "one's", "etc", "sb", "sth", "e.g", "i.e"}
_AUX = {
    "is", "are", "was", "were", "am", "be", "been", "has", "have", "had", "do", "does", "did",
    "will", "would", "can", "could", "shall", "should", "may", "might", "must", "isn't",
    "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "can't", "won't", "couldn't",
}
_NOUN_PHRASE_OPENERS = {
    "the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their", "our",
    "my", "your", "some", "any", "every", "each", "of", "and", "with", "very", "most", "more",
}
_SUBJECT_STARTS = {
    "i", "you", "he", "she", "it", "we", "they", "the", "a", "an", "this", "that", "these",
    "those", "my", "his", "her", "our", "their", "your", "its", "there", "many", "some", "all",
    "every", "each", "no", "most",
}


@dataclass(frozen=True)
class SentenceFilter:
    """Acceptance rules for a corpus sentence (counts are words / letters)."""

    min_words: int = 5
    max_words: int = 25
    max_word_letters: int = 18

    @classmethod
    def tiny(cls) -> "SentenceFilter":
        return cls(min_words=3, max_words=10)


def reject_reason(text: str, rules: SentenceFilter = SentenceFilter()) -> str | None:
    """Why ``text`` is not a clean corpus sentence, or ``None`` if it is acceptable."""
    text = " ".join(text.split())
    if not text:
        return "empty"
    if any(ch.isdigit() for ch in text):
        return "contains digits"
    if not _ALLOWED.match(text):
        bad = sorted({ch for ch in text if not re.match(r"[A-Za-z ,;:!?.'\-]", ch)})
        return f"odd symbols {''.join(bad)!r}" if bad else "does not start with a letter"
    words = [w.strip(",;:!?.'-") for w in text.split()]
    if any(not w for w in words):
        return "stray punctuation"
    if not rules.min_words <= len(words) <= rules.max_words:
        return f"{len(words)} words (expected {rules.min_words}..{rules.max_words})"
    if any(len(w) >= 2 and w.isupper() for w in words):
        return "all-capital token (acronym)"
    if any(w.lower() in _PLACEHOLDERS for w in words):
        return "WordNet placeholder word"
    if any(len(w) > rules.max_word_letters for w in words):
        return "very long word"
    if re.search(r"--|''|-\s|\s-|[,;:]\s*[,;:.!?]|[.!?].*[.!?]\S|[.!?]\s+\S", text):
        return "several sentences or odd punctuation"
    if not (words[0][0].isupper() or words[0].lower() in _SUBJECT_STARTS):
        return "looks like a phrase (lower-case start, no subject)"
    return None


def tidy_sentence(text: str) -> str:
    """Collapse whitespace, capitalise the first letter and end with ``.`` unless ``!``/``?``."""
    text = " ".join(text.split()).rstrip(",;: ")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def wordnet_examples(wordnet_dir: str | Path = WORDNET_DIR) -> Iterator[tuple[str, str]]:
    """Yield ``(example, pos)`` for every quoted usage example in the WordNet data files.

    ``pos`` is ``noun``, ``verb``, ``adj`` or ``adv`` (the gloss file it came from).
    """
    wordnet_dir = Path(wordnet_dir)
    files = [wordnet_dir / f for f in _POS_FILES]
    if not all(f.is_file() for f in files):
        raise DependencyError(
            f"expected WordNet data files {', '.join(_POS_FILES)} in '{wordnet_dir}' "
            "(Debian package 'wordnet-base'), but they are missing")
    for f in files:
        with f.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header lines start with two spaces
                for m in _QUOTE.finditer(line.split("|", 1)[1]):
                    yield m.group(1).strip(), f.name.split(".")[1]


class VerbForms:
    """Inflected verb forms from WordNet (``index.verb`` lemmas + ``verb.exc`` irregulars)."""

    def __init__(self, wordnet_dir: str | Path = WORDNET_DIR) -> None:
        wordnet_dir = Path(wordnet_dir)
        self.lemmas: set[str] = set()
        self.irregular: set[str] = set()
        index, exc = wordnet_dir / "index.verb", wordnet_dir / "verb.exc"
        if index.is_file():
            for line in index.open(encoding="utf-8", errors="replace"):
                if not line.startswith(" "):
                    self.lemmas.add(line.split(" ", 1)[0])
        if exc.is_file():
            self.irregular = {ln.split(" ", 1)[0] for ln in exc.open(encoding="utf-8") if ln.strip()}

    def has_verb_signal(self, sentence: str) -> bool:
        """Whether ``sentence`` contains an auxiliary or an inflected (non-base) verb form."""
        words = [w.strip(",;:!?.-").lower() for w in sentence.split()]
        for i, w in enumerate(words):
            if w in _AUX or re.search(r"n't$|'(ve|ll|re|m|d)$", w):
                return True
            if i > 0 and words[i - 1] in _NOUN_PHRASE_OPENERS:
                continue  # "the polluted pond", "of whiskeys": adjective/noun use, not a verb
            if w in self.irregular:
                return True
            stems = [w[:-2], w[:-1], w[:-2] + "e" if w.endswith("ed") else ""] if w.endswith("ed") else []
            if i > 0 and w.endswith("s") and not w.endswith("ss"):
                stems += [w[:-1], w[:-2] if w.endswith("es") else ""]
            if any(st and st in self.lemmas for st in stems):
                return True
        return False


def clean_sentences(raw: Iterable[str | tuple[str, str]], rules: SentenceFilter = SentenceFilter(),
                    verbs: "VerbForms | None" = None) -> list[str]:
    """Filter, tidy and de-duplicate (case-insensitively) candidate sentences, keeping order.

    ``raw`` items are texts or ``(text, pos)`` pairs from :func:`wordnet_examples`. With
    ``verbs``, non-verb-gloss examples must also pass :meth:`VerbForms.has_verb_signal`.
    """
    seen: set[str] = set()
    out = []
    for item in raw:
        text, pos = (item, "") if isinstance(item, str) else item
        if reject_reason(text, rules) is not None:
            continue
        if verbs is not None and pos != "verb" and not verbs.has_verb_signal(text):
            continue
        tidy = tidy_sentence(text)
        key = re.sub(r"[^a-z ]", "", tidy.lower())
        if key not in seen:
            seen.add(key)
            out.append(tidy)
    return out


def _units(sentence: str) -> set[str]:
    letters = re.sub(r"[^a-z ]", "", sentence.lower())
    padded = f" {letters} "
    trigrams = {padded[i:i + 3] for i in range(len(padded) - 2)}
    return trigrams | {f"w:{w}" for w in letters.split()}


def select_diverse(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """Pick ``n`` sentences greedily maximising new letter-trigram/word coverage per word.

    Candidates are shuffled with ``seed`` first (ties break randomly but reproducibly). Gains are
    re-evaluated lazily (a max-heap of stale upper bounds), so this is fast for tens of thousands.
    """
    import heapq

    if n > len(sentences):
        raise InputError(f"asked for {n} sentences but only {len(sentences)} clean ones are available")
    order = list(sentences)
    random.Random(seed).shuffle(order)
    units = [_units(s) for s in order]
    lengths = [max(1, len(s.split())) for s in order]
    covered: set[str] = set()
    heap = [(-len(u) / ln, i) for i, (u, ln) in enumerate(zip(units, lengths))]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < n:
        neg_gain, i = heapq.heappop(heap)
        gain = len(units[i] - covered) / lengths[i]
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, i))  # stale: re-insert with the true gain
            continue
        chosen.append(i)
        covered |= units[i]
    return [order[i] for i in chosen]


@functools.lru_cache(maxsize=4)
def _clean_pool(wordnet_dir: str, rules: SentenceFilter) -> tuple[str, ...]:
    return tuple(clean_sentences(wordnet_examples(wordnet_dir), rules, VerbForms(wordnet_dir)))


def load_sentences(n: int, seed: int = 0, rules: SentenceFilter = SentenceFilter(),
                   wordnet_dir: str | Path = WORDNET_DIR) -> list[str]:
    """``n`` clean, diverse WordNet example sentences (deterministic for a given ``seed``)."""
    pool = list(_clean_pool(str(wordnet_dir), rules))
    log.info("WordNet: %d clean candidate sentences", len(pool))
    return select_diverse(pool, n, seed)
