"""core.deferred_modules: an import inside the block binds a stand-in that loads the real module
only when it is used, and the stand-ins leave sys.modules with the block."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from facespeak.core.deferred_modules import deferred_modules


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """``heavypkg`` (its ``__init__`` and ``plot`` append to ``heavypkg_log``) and ``user``,
    which imports ``heavypkg.plot`` at its top, as mediapipe's drawing helpers import pyplot."""
    (tmp_path / "heavypkg").mkdir()
    (tmp_path / "heavypkg" / "__init__.py").write_text("import builtins\nbuiltins.heavypkg_log.append('pkg')\n")
    (tmp_path / "heavypkg" / "plot.py").write_text(textwrap.dedent("""
        import builtins
        builtins.heavypkg_log.append('plot')
        def draw():
            return 'drawn'
    """))
    (tmp_path / "user.py").write_text("import heavypkg.plot as plt\ndef use():\n    return plt.draw()\n")
    import builtins

    monkeypatch.setattr(builtins, "heavypkg_log", [], raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield builtins.heavypkg_log
    for name in ("user", "heavypkg", "heavypkg.plot"):
        sys.modules.pop(name, None)


def test_the_import_in_the_block_runs_no_deferred_module(fake_packages) -> None:
    with deferred_modules("heavypkg", "heavypkg.plot"):
        user = importlib.import_module("user")
    assert fake_packages == []  # neither the package nor the submodule ran
    assert "heavypkg" not in sys.modules and "heavypkg.plot" not in sys.modules  # stand-ins gone
    assert user.use() == "drawn"  # first use loads the real modules
    assert fake_packages == ["pkg", "plot"]
    assert importlib.import_module("heavypkg.plot").draw is user.plt.draw


def test_later_imports_get_the_real_module(fake_packages) -> None:
    with deferred_modules("heavypkg", "heavypkg.plot"):
        importlib.import_module("user")
    plot = importlib.import_module("heavypkg.plot")
    assert type(plot).__name__ == "module" and fake_packages == ["pkg", "plot"]


def test_modules_already_imported_are_left_alone(fake_packages) -> None:
    real = importlib.import_module("heavypkg.plot")
    with deferred_modules("heavypkg", "heavypkg.plot"):
        user = importlib.import_module("user")
    assert user.plt is real and fake_packages == ["pkg", "plot"]


def test_a_deferred_submodule_of_a_loaded_package(fake_packages) -> None:
    importlib.import_module("heavypkg")
    with deferred_modules("heavypkg", "heavypkg.plot"):
        user = importlib.import_module("user")
    assert fake_packages == ["pkg"]
    assert user.use() == "drawn" and fake_packages == ["pkg", "plot"]
