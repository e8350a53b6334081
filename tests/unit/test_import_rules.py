"""The layer rules of docs/architecture.md ("Packages and layers") and ../shared/STYLE.md, checked
by an AST scan of every module under ``src/facespeak``: module-level and function-level imports
(absolute, relative, ``from pkg import module``, ``importlib.import_module("facespeak...")``).

Rules:
- a module imports its own package or packages of a lower layer (:data:`LAYERS`); the only
  imports within one layer are :data:`SAME_LAYER` (``train``/``eval`` use ``data``; ``cli``
  starts the ``server``);
- model packages (``tts``, ``vocoder``, ``motion``, ``tfg``) never import each other;
- nothing outside ``cli``/``server`` imports them, and ``server`` never imports ``cli``;
- no module imports another package's private (``_name``) names;
- model packages do not print;
- no ``.py`` file under ``src/facespeak`` is over :data:`MAX_LINES` lines;
- project imports go at module top, in every package, the shells ``cli``/``server`` included. An
  import of a facespeak module inside a function is allowed only when it avoids a heavy or
  optional dependency the importing module otherwise does not need (cv2, scipy, numba, torch,
  onnxruntime, mediapipe, dlib, fastapi, ...; in ``cli``: one that ``facespeak --help`` would
  otherwise load) or breaks a real import cycle, and then a comment starting with ``# lazy:`` on
  the import's first line or on the line just above says why; one comment covers the imports that
  directly follow it, line after line (:func:`unmarked_lazy_imports`).

A justified exception goes into :data:`ALLOWED` with a one-line reason; an entry that no longer
matches anything fails :func:`test_allow_list_has_no_stale_entries`, so it is removed once fixed.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "facespeak"

#: layer of each top-level package or module of facespeak (docs/architecture.md, table)
LAYERS: dict[str, int] = {
    "core": 0,
    "text": 1, "audio": 1, "video": 1, "options": 1,
    "vocoder": 2, "tts": 2, "face": 2,
    "motion": 3, "tfg": 3,
    "bundle": 4, "pipeline": 4, "latent_pipeline": 4, "say_stream": 4,
    "data": 5, "train": 5, "eval": 5,
    "cli": 6, "server": 6,
}
#: importable from any layer, importing nothing of facespeak: the root package (``__version__``)
#: and ``assets`` (bundled files, imported for their locations)
ANY_LAYER = frozenset({"", "assets"})
MODEL_PACKAGES = frozenset({"tts", "vocoder", "motion", "tfg"})
#: the imports allowed within one layer: (importer, imported); ``pipeline`` hands the latent
#: renderer to ``latent_pipeline`` and both stream ``say`` through ``say_stream``; both
#: load their models through ``bundle``
SAME_LAYER = frozenset({("train", "data"), ("eval", "data"), ("cli", "server"), ("pipeline", "latent_pipeline"),
                        ("pipeline", "bundle"), ("latent_pipeline", "bundle"), ("pipeline", "say_stream"),
                        ("latent_pipeline", "say_stream")})
SHELLS = frozenset({"cli", "server"})
MAX_LINES = 500
OVER_LIMIT = f"over {MAX_LINES} lines"
PRINT = "print()"

LAZY_MARK = "# lazy:"
#: (file relative to src/facespeak, imported module / private name / OVER_LIMIT / PRINT): reason
ALLOWED: dict[tuple[str, str], str] = {
}


@dataclass(frozen=True)
class Violation:
    path: str  # relative to the package root, e.g. "server/app.py"
    line: int
    target: str  # the imported module, private name, OVER_LIMIT or PRINT
    rule: str

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.target

    def __str__(self) -> str:
        return f"src/{PACKAGE}/{self.path}:{self.line} -> {self.target} ({self.rule})"


# ----------------------------------------------------------------------------- the scan


def _modules(root: Path) -> list[tuple[Path, str, bool]]:
    """``(file, dotted module name, is a package __init__)`` of every module under ``root/PACKAGE``."""
    out = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        out.append((path, ".".join(parts[:-1] if is_init else parts), is_init))
    return out


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _dynamic_target(node: ast.Call) -> str | None:
    """The facespeak package named by ``importlib.import_module("facespeak...")`` (f-strings: the
    package before the first formatted part)."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "import_module" or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        text = arg.value
    elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        text = str(arg.values[0].value).rsplit(".", 1)[0]
    else:
        return None
    return text if text == PACKAGE or text.startswith(PACKAGE + ".") else None


def imports(root: Path, path: Path, module: str, is_init: bool) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, imported facespeak module, names taken from it)`` of every import in the file,
    at any depth; ``from pkg import module`` counts as an import of ``pkg.module``."""
    package = module if is_init else module.rpartition(".")[0]
    out: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, ()) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            names = tuple(a.name for a in node.names)
            submodules = [n for n in names if _is_module(root, f"{base}.{n}")]
            out += [(node.lineno, f"{base}.{n}", ()) for n in submodules]
            rest = tuple(n for n in names if n not in submodules)
            if rest:
                out.append((node.lineno, base, rest))
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
            out.append((node.lineno, target, ()))
    return out


def top_package(module: str) -> str:
    """``facespeak.data.voices`` -> ``data``; ``facespeak.pipeline`` -> ``pipeline``; ``facespeak`` -> ``''``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_problem(src: str, dst: str) -> str | None:
    """Why top-level package ``src`` may not import ``dst``, or None if it may."""
    if src == dst:
        return None
    if src in ANY_LAYER:
        return "the root package and assets import nothing of facespeak"
    if dst in ANY_LAYER:
        return None
    if dst not in LAYERS:
        return f"package {dst!r} is not in the layer table"
    if dst in SHELLS and (src, dst) not in SAME_LAYER:
        return "nothing imports cli or server"
    if src in MODEL_PACKAGES and dst in MODEL_PACKAGES:
        return "model packages do not import each other"
    if LAYERS[dst] < LAYERS[src] or (src, dst) in SAME_LAYER:
        return None
    return f"layer {LAYERS[src]} ({src}) imports layer {LAYERS[dst]} ({dst})"


def scan(root: Path) -> list[Violation]:
    """Every rule break under ``root/facespeak`` (``root`` = the ``src`` directory)."""
    found: list[Violation] = []
    for path, module, is_init in _modules(root):
        rel = path.relative_to(root / PACKAGE).as_posix()
        src = top_package(module)
        text = path.read_text(encoding="utf-8")
        if src not in LAYERS and src not in ANY_LAYER:
            found.append(Violation(rel, 1, module, "package not in the layer table"))
            continue
        if len(text.splitlines()) > MAX_LINES:
            found.append(Violation(rel, len(text.splitlines()), OVER_LIMIT, "files stay under ~500 lines"))
        for line, target, names in imports(root, path, module, is_init):
            dst = top_package(target)
            problem = layer_problem(src, dst)
            if problem:
                found.append(Violation(rel, line, target, problem))
            if dst != src:
                found += [Violation(rel, line, f"{target}.{n}", "private name of another package")
                          for n in names if n.startswith("_") and not n.startswith("__")]
        if src in MODEL_PACKAGES:
            found += [Violation(rel, node.lineno, PRINT, "model packages do not print")
                      for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call)
                      and isinstance(node.func, ast.Name) and node.func.id == "print"]
    return found


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` names (relative ones resolved against ``package``)."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    return ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))


def _comment_lines(text: str) -> dict[int, str]:
    """``{line: comment text}`` of every ``#`` comment in the source."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def unmarked_lazy_imports(root: Path) -> list[Violation]:
    """Imports of facespeak modules inside a function (at any depth; ``importlib.import_module``
    of a facespeak name too) with no ``# lazy:`` comment
    on the import's first line or on the line just above it, where the line above may also be the
    last line of another import that such a comment covers (one comment, a block of imports)."""
    found: list[Violation] = []
    for path, module, is_init in _modules(root):
        rel = path.relative_to(root / PACKAGE).as_posix()
        package = module if is_init else module.rpartition(".")[0]
        text = path.read_text(encoding="utf-8")
        comments = _comment_lines(text)
        nodes = {node for fn in ast.walk(ast.parse(text, str(path)))
                 if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))
                 or (isinstance(node, ast.Call) and _dynamic_target(node))}
        covered_ends: set[int] = set()  # last lines of marked imports (any module)
        for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
            if isinstance(node, ast.Call):  # importlib.import_module("facespeak...")
                targets = [_dynamic_target(node) or ""]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                targets = [_resolve(node, package)]
            targets = [t for t in targets if t.split(".")[0] == PACKAGE]
            marked = (any(comments.get(line, "").startswith(LAZY_MARK) for line in (node.lineno, node.lineno - 1))
                      or node.lineno - 1 in covered_ends)
            if marked:
                covered_ends.add(node.end_lineno or node.lineno)
            elif targets:
                found.append(Violation(rel, node.lineno, targets[0], "function-level import without '# lazy:'"))
    return sorted(set(found), key=lambda v: (v.path, v.line))


def _report(violations: list[Violation]) -> str:
    return "\n".join(str(v) for v in sorted(violations, key=lambda v: (v.path, v.line, v.target)))


# ----------------------------------------------------------------------------- the rules


def test_every_package_has_a_layer():
    tops = {top_package(module) for _, module, _ in _modules(SRC)}
    unknown = sorted(tops - set(LAYERS) - ANY_LAYER)
    assert not unknown, f"add these to LAYERS and to the table in docs/architecture.md: {unknown}"


def test_src_follows_the_import_and_size_rules():
    bad = [v for v in scan(SRC) if v.key not in ALLOWED]
    assert not bad, "layer rules broken (docs/architecture.md, 'Packages and layers'):\n" + _report(bad)


def test_allow_list_has_no_stale_entries():
    found = {v.key for v in scan(SRC)}
    stale = sorted(k for k in ALLOWED if k not in found)
    assert not stale, f"fixed: remove these entries from ALLOWED in {Path(__file__).name}: {stale}"


def test_project_imports_are_at_module_top():
    bad = unmarked_lazy_imports(SRC)
    assert not bad, ("move these imports to the module top, or say why they are lazy with a "
                     "'# lazy: ...' comment on or just above the line (docs/architecture.md, "
                     "'Conventions'):\n" + _report(bad))


# ----------------------------------------------------------------------------- the scanner itself


def _write(root: Path, rel: str, text: str) -> None:
    path = root / PACKAGE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_scanner_reports_each_kind_of_violation(tmp_path):
    """A small fake facespeak tree with one break of every rule (module- and function-level,
    relative and absolute) and as many allowed imports; the scan finds exactly the breaks."""
    for pkg in ("core", "tts", "vocoder", "tfg", "data", "eval", "train", "cli", "server", "assets"):
        _write(tmp_path, f"{pkg}/__init__.py", "")
    _write(tmp_path, "__init__.py", "__version__ = '0'\n")
    _write(tmp_path, "core/errors.py", "from .. import __version__\n")
    _write(tmp_path, "tts/model.py", "from ..core import errors\nfrom ..vocoder import hifigan\n"
           "def f():\n    from facespeak.data import corpus\n    print('x')\n")
    _write(tmp_path, "vocoder/hifigan.py", "import facespeak.core.errors\nfrom facespeak.assets import x\n")
    _write(tmp_path, "tfg/render.py", "\n" * (MAX_LINES + 1) + "from ..tts.model import _private\n")
    _write(tmp_path, "data/corpus.py", "def f():\n    from facespeak.eval import metrics\n")
    _write(tmp_path, "eval/metrics.py", "from ..data.corpus import load\nfrom ..data import corpus\n")
    _write(tmp_path, "train/task.py", "import importlib\nm = importlib.import_module(f'facespeak.cli.cmd_{1}')\n"
           "from ..data import corpus\n")
    _write(tmp_path, "server/app.py", "from ..cli import main\n")
    _write(tmp_path, "cli/main.py", "from facespeak.server import app\nfrom ..eval.metrics import x\n")
    _write(tmp_path, "odd/__init__.py", "")
    got = {(v.path, v.line, v.target) for v in scan(tmp_path)}
    assert got == {
        ("tts/model.py", 2, "facespeak.vocoder.hifigan"),  # model packages do not import each other
        ("tts/model.py", 4, "facespeak.data.corpus"),  # a lower layer imports a higher one
        ("tts/model.py", 5, PRINT),
        ("tfg/render.py", MAX_LINES + 2, "facespeak.tts.model"),  # model packages, lower layer or not
        ("tfg/render.py", MAX_LINES + 2, "facespeak.tts.model._private"),
        ("tfg/render.py", MAX_LINES + 2, OVER_LIMIT),
        ("data/corpus.py", 2, "facespeak.eval.metrics"),  # within layer 5 only train/eval -> data
        ("train/task.py", 2, "facespeak.cli"),  # nothing imports cli, not even dynamically
        ("server/app.py", 1, "facespeak.cli.main"),  # server never imports cli
        ("odd/__init__.py", 1, "facespeak.odd"),  # a package missing from the layer table
    }, _report(scan(tmp_path))


def test_violation_message_names_file_line_and_module():
    v = Violation("server/app.py", 180, "facespeak.cli.cmd_faces", "nothing imports cli or server")
    assert str(v) == "src/facespeak/server/app.py:180 -> facespeak.cli.cmd_faces (nothing imports cli or server)"


def test_lazy_import_scan_finds_exactly_the_unmarked_ones(tmp_path):
    """Function-level project imports in a small fake tree: unmarked ones (absolute, relative,
    nested, a mark two lines up, a mark that does not start the comment, a block broken by a blank
    line, those of the shells) are found; marked ones (on the line, above it, or in a block under
    one mark), module-level ones and third-party ones are not."""
    for pkg in ("core", "data", "cli", "server"):
        _write(tmp_path, f"{pkg}/__init__.py", "")
    _write(tmp_path, "core/errors.py", "import json\n")
    _write(tmp_path, "data/corpus.py", (
        "from ..core import errors\n"  # 1: module level
        "def f():\n"
        "    from ..core import errors\n"  # 3: relative, unmarked
        "    import facespeak.core.errors\n"  # 4: absolute, unmarked
        "    # lazy: loads torch\n"
        "    from facespeak.core.errors import x\n"  # 6: marked above
        "    from facespeak.core import errors  # lazy: loads cv2\n"  # 7: marked on the line
        "    import numpy\n"  # 8: not a project module
        "    # lazy: too far up\n"
        "\n"
        "    from ..core.errors import y\n"  # 11: the mark is two lines up
        "    def g():\n"
        "        from ..core import errors  # see # lazy: here\n"  # 13: nested; the mark must start the comment
        "class C:\n"
        "    def m(self):\n"
        "        # lazy: import cycle\n"
        "        from facespeak.core import (\n"
        "            errors)\n"  # 17: a marked multi-line import
        "    async def n(self):\n"
        "        from ...facespeak.core import errors\n"  # 20: async method, unmarked
        "def h():\n"
        "    # lazy: loads cv2\n"
        "    import numpy\n"  # 23: a third-party import under the mark starts the block
        "    from ..core import (\n"
        "        errors)\n"  # 24: in the block
        "    from ..core.errors import z\n"  # 26: in the block, after a multi-line import
        "\n"
        "    from ..core.errors import w\n"))  # 28: a blank line ends the block
    _write(tmp_path, "cli/main.py", "def main():\n    from facespeak.data import corpus\n"
           "def other():\n    # lazy: loads cv2\n    from facespeak.data import corpus\n")
    _write(tmp_path, "server/app.py", "def app():\n    from ..data import corpus\n")
    _write(tmp_path, "data/loader.py", "import importlib\n"
           "def f(name):\n    return importlib.import_module(f'facespeak.data.{name}')\n"  # 3: dynamic, unmarked
           "def g(name):\n    # lazy: the chosen builder only\n    return importlib.import_module('facespeak.data')\n"
           "def h(name):\n    return importlib.import_module(name)\n")  # not a facespeak name
    got = {(v.path, v.line) for v in unmarked_lazy_imports(tmp_path)}
    assert got == ({("data/corpus.py", n) for n in (3, 4, 11, 13, 20, 28)}
                   | {("cli/main.py", 2), ("server/app.py", 2), ("data/loader.py", 3)}), \
        _report(unmarked_lazy_imports(tmp_path))
