"""The documentation a newcomer walks: every relative Markdown link in the README, the docs, the
third-party list and the model cards resolves (file, and heading or ``<a id>`` anchor), and the
docs index (``docs/README.md``) links every page under ``docs/`` (issue 13, "Docs a newcomer can
walk"). External (``http``/``mailto``) links are not fetched: the tests run offline."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)


def markdown_files() -> list[Path]:
    """The Markdown a reader of the repository meets (``corpus/`` and ``runs/`` are not shipped)."""
    files = [ROOT / "README.md", ROOT / "THIRD_PARTY.md", *sorted(DOCS.rglob("*.md")),
             *sorted((ROOT / "src" / "facespeak" / "assets").glob("*/MODEL_CARD.md"))]
    return [f for f in files if f.is_file()]


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code (links there are examples, not links)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[`*_]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a link into ``path`` may name: heading slugs (repeats get -1, -2, ...) and ``<a id>``."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    out: set[str] = set(_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(text):
        s = slug(heading)
        out.add(s if s not in seen else f"{s}-{seen[s]}")
        seen[s] = seen.get(s, 0) + 1
    return out


def links(path: Path) -> list[str]:
    return _LINK.findall(_prose(path.read_text(encoding="utf-8")))


def broken_links(path: Path) -> list[str]:
    """Relative links of ``path`` whose file or anchor does not exist, as ``target (why)``."""
    bad = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target} (no such heading or anchor in {dest.name})")
    return bad


def test_every_relative_link_resolves():
    bad = {str(p.relative_to(ROOT)): b for p in markdown_files() if (b := broken_links(p))}
    assert not bad, "broken links:\n" + "\n".join(f"{p}: {t}" for p, ts in bad.items() for t in ts)


def test_docs_index_links_every_page():
    linked = {(INDEX.parent / t.partition("#")[0]).resolve() for t in links(INDEX) if not t.startswith("#")}
    pages = {p.resolve() for p in DOCS.rglob("*.md") if p != INDEX}
    missing = sorted(str(p.relative_to(ROOT)) for p in pages - linked)
    assert not missing, f"add these pages to {INDEX.relative_to(ROOT)}: {missing}"


def test_the_checker_finds_broken_files_and_anchors(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n## Speed of `tts` (text -> wav)\n<a id=\"d1\"></a>\n## Top\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md) [ok](a.md#speed-of-tts-text---wav) [ok](a.md#d1) [ok](a.md#top-1) "
                    "[web](https://example.org/x) `[code](nope.md)`\n```\n[fenced](nope.md)\n```\n"
                    "[bad](nope.md) [bad](a.md#nope) [bad](#missing)\n", encoding="utf-8")
    assert broken_links(page) == ["nope.md (no such file)", "a.md#nope (no such heading or anchor in a.md)",
                                  "#missing (no such heading or anchor in b.md)"]
