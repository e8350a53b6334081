"""Kokoro style recipes, token padding and style-row selection on tiny arrays; the model cache."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from facespeak.core.cache import assemble_parts
from facespeak.core.errors import ConfigError, DependencyError, InputError, TextError
from facespeak.data.neural_voices import (
    KOKORO_MAX_TOKENS,
    StyleRecipe,
    blend_style,
    pad_tokens,
    phoneme_ids,
    style_row,
)
from facespeak.data.voices import VOICES


def _packs(n_len: int = 4) -> dict[str, np.ndarray]:
    """Three packs whose rows are distinguishable: a[i] = i, b[i] = 10 + i, c = -1 everywhere."""
    rows = np.arange(n_len, dtype=np.float32)[:, None] * np.ones((1, 256), np.float32)
    return {"a": rows, "b": rows + 10.0, "c": -np.ones((n_len, 256), np.float32)}


def test_single_pack_recipe_is_the_pack_itself():
    packs = _packs()
    recipe = StyleRecipe(mix=(("b", 1.0),))
    np.testing.assert_array_equal(blend_style(packs, recipe), packs["b"])
    assert not recipe.is_blend


def test_convex_mix_is_the_weighted_mean():
    packs = _packs()
    style = blend_style(packs, StyleRecipe(mix=(("a", 0.75), ("b", 0.25))))
    np.testing.assert_allclose(style, 0.75 * packs["a"] + 0.25 * packs["b"], rtol=0, atol=1e-6)
    assert style.dtype == np.float32 and style.shape == (4, 256)


def test_prosody_mix_changes_only_the_second_half():
    packs = _packs()
    style = blend_style(packs, StyleRecipe(mix=(("a", 1.0),), prosody_mix=(("c", 1.0),)))
    np.testing.assert_array_equal(style[:, :128], packs["a"][:, :128])  # timbre (decoder) half kept
    np.testing.assert_array_equal(style[:, 128:], packs["c"][:, 128:])  # prosody (predictor) half swapped
    assert StyleRecipe(mix=(("a", 1.0),), prosody_mix=(("c", 1.0),)).is_blend


def test_move_adds_a_scaled_difference_of_packs():
    packs = _packs()
    style = blend_style(packs, StyleRecipe(mix=(("a", 1.0),), moves=(("c", "b", 0.5, "all"),)))
    np.testing.assert_allclose(style, packs["a"] + 0.5 * (packs["b"] - packs["c"]), atol=1e-6)
    timbre = blend_style(packs, StyleRecipe(mix=(("a", 1.0),), moves=(("c", "b", 0.5, "timbre"),)))
    np.testing.assert_allclose(timbre[:, :128], style[:, :128], atol=1e-6)
    np.testing.assert_array_equal(timbre[:, 128:], packs["a"][:, 128:])
    with pytest.raises(ConfigError, match="part"):
        blend_style(packs, StyleRecipe(mix=(("a", 1.0),), moves=(("c", "b", 0.5, "pitch"),)))


@pytest.mark.parametrize("mix", [(("a", 0.6), ("b", 0.6)), (("a", 1.2), ("b", -0.2)), ()])
def test_non_convex_mix_is_rejected(mix):
    with pytest.raises(ConfigError, match="weights"):
        blend_style(_packs(), StyleRecipe(mix=mix))


def test_unknown_pack_is_rejected_by_name():
    with pytest.raises(ConfigError, match="zz"):
        blend_style(_packs(), StyleRecipe(mix=(("a", 1.0),), moves=(("a", "zz", 0.1, "all"),)))


def test_style_row_follows_the_token_count_and_clamps():
    style = _packs(n_len=4)["a"]  # row i holds the value i
    assert style_row(style, 1).shape == (1, 256)
    assert style_row(style, 1)[0, 0] == 0.0  # 1 token -> row 0
    assert style_row(style, 3)[0, 0] == 2.0  # 3 tokens -> row 2
    assert style_row(style, 99)[0, 0] == 3.0  # longer than the table -> last row
    with pytest.raises(InputError):
        style_row(style, 0)
    with pytest.raises(InputError):
        style_row(style[:, :100], 2)


def test_pad_tokens_puts_one_zero_at_each_end():
    out = pad_tokens([5, 7, 9])
    assert out.dtype == np.int64 and out.shape == (1, 5)
    assert out.tolist() == [[0, 5, 7, 9, 0]]
    assert pad_tokens([1] * KOKORO_MAX_TOKENS).shape == (1, KOKORO_MAX_TOKENS + 2)
    with pytest.raises(TextError):
        pad_tokens([])
    with pytest.raises(TextError):
        pad_tokens([1] * (KOKORO_MAX_TOKENS + 1))


def test_phoneme_ids_drop_unknown_symbols():
    assert phoneme_ids("hə?lO", {"h": 1, "ə": 2, "l": 3, "O": 4}) == [1, 2, 3, 4]


def test_recipe_description_names_every_part():
    text = StyleRecipe(mix=(("a", 0.8), ("b", 0.2)), prosody_mix=(("c", 1.0),), moves=(("a", "b", 0.1, "timbre"),),
                       speed=0.95).describe()
    for part in ("0.8 a", "0.2 b", "prosody: 1 c", "+0.1 x (b - a) on timbre", "speed 0.95"):
        assert part in text


def test_assemble_parts_concatenates_checks_and_reuses(tmp_path):
    parts = [tmp_path / "p1", tmp_path / "p2"]
    parts[0].write_bytes(b"abc")
    parts[1].write_bytes(b"defg")
    target = tmp_path / "cache" / "model.onnx"
    sha = hashlib.sha256(b"abcdefg").hexdigest()
    assert assemble_parts(parts, target, sha).read_bytes() == b"abcdefg"
    parts[0].unlink()  # an existing verified file is reused without the parts
    assert assemble_parts(parts, target, sha) == target
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_assemble_parts_rejects_a_wrong_checksum_and_leaves_nothing(tmp_path):
    part = tmp_path / "p1"
    part.write_bytes(b"abc")
    target = tmp_path / "cache" / "model.onnx"
    with pytest.raises(DependencyError, match="sha256"):
        assemble_parts([part], target, "0" * 64)
    assert not target.exists() and not target.parent.exists()  # the folder it made goes too
    with pytest.raises(DependencyError, match="missing"):
        assemble_parts([tmp_path / "nope"], target, "0" * 64)


def test_registry_kokoro_voices_are_labelled_and_valid():
    kokoro = [v for v in VOICES.values() if v.engine == "kokoro"]
    assert kokoro
    for v in kokoro:
        assert v.style is not None
        v.style.validate()
        assert v.derived == v.style.is_blend
        assert ("blend" in v.note) == v.style.is_blend
        assert v.to_dict()["style_recipe"] == v.style.describe()
