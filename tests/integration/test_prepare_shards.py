"""End to end: tiny LRS3-, LRS2- and VoxCeleb2-layout datasets of real talking clips (rendered
offline by ``facespeak say``: a real photo speaking TTS speech), prepared into WebDataset shards
by ``facespeak data prepare ... --workers 2``, read back with ``webdataset``; a rerun does no
work and leaves the same index; a corrupt clip is logged with its reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from facespeak.cli.main import main
from facespeak.data.shards import decode_sample, iter_shards, read_failures
from facespeak.pipeline import default_tts_path
from facespeak.video.reader import probe_video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shard_fixtures import dataset_trees, render_clips  # noqa: E402

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[Path]:
    """Three short talking clips (256 px, 25 fps, H.264 + AAC) of two faces."""
    return render_clips(tmp_path_factory.mktemp("rendered"))


def _prepare(dataset: str, root: Path, out: Path) -> int:
    return main(["data", "prepare", dataset, str(root), "--out", str(out), "--workers", "2",
                 "--clips-per-shard", "2"])


def _check_sample(s: dict, source: Path, text: str | None) -> None:
    info = probe_video(source)
    t = s["frames"].shape[0]
    assert s["frames"].shape[1:] == (256, 256, 3) and abs(t - info.video_duration_s * 25) <= 1
    assert s["sample_rate"] == 16000 and len(s["audio"]) == round(t / 25 * 16000)
    assert np.abs(s["audio"]).max() > 0.05  # speech, not silence
    assert s["text"] == (text or "") and bool(s["meta"]["phonemes"]) == bool(text)
    assert np.isfinite(s["pose"]).all() and (s["quality"] & 1).sum() == 0  # a face in every frame
    mouth = s["mesh"][:, [13, 14], 1]  # lips move: the mouth opening varies over the clip
    assert np.ptp(mouth[:, 1] - mouth[:, 0]) > 1.0


def test_prepare_lrs3_lrs2_vox2_shards(rendered, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FACESPEAK_NO_PROGRESS", "1")
    trees = dataset_trees(tmp_path / "data", rendered)
    expect = {"lrs3": {"trainval/0af00UcTOSc/50001": (rendered[0], "OPEN THE DOOR"),
                       "test/0Fi83BHQsMA/00002": (rendered[1], "GOOD MORNING TO YOU"),
                       "pretrain/0af00UcTOSc/00001": (rendered[2], "WE MET AT NOON")},
              "lrs2": {"main/5535415699068794046/00001": (rendered[0], "OPEN THE DOOR"),
                       "main/5535415699068794046/00002": (rendered[1], "GOOD MORNING TO YOU"),
                       "main/6330311066473698535/00011": (rendered[2], "WE MET AT NOON")},
              "vox2": {"dev/id00012/21Uxsk56VDQ/00001": (rendered[0], None),
                       "dev/id00012/21Uxsk56VDQ/00002": (rendered[2], None),
                       "test/id00017/01dfn2spqyE/00001": (rendered[1], None)}}
    for dataset, root in trees.items():
        out = tmp_path / f"{dataset}_shards"
        assert _prepare(dataset, root, out) == 0, capsys.readouterr().err
        samples = {s["__key__"]: decode_sample(s) for s in iter_shards(out)}
        assert sorted(samples) == sorted(expect[dataset])
        for key, (source, text) in expect[dataset].items():
            _check_sample(samples[key], source, text)
        index = json.loads((out / "index.json").read_text())
        assert index["n_clips"] == 3 and [s["n_clips"] for s in index["shards"]] == [2, 1]
        if dataset == "lrs3":
            assert index["splits"] == {"pretrain": 1, "test": 1, "trainval": 1}
            assert samples["trainval/0af00UcTOSc/50001"]["meta"]["words"][1] == ["THE", 0.3, 0.55]
            failure = read_failures(out)["trainval/0af00UcTOSc/50002"]
            assert failure["source"].endswith("50002.mp4") and failure["reason"]
        if dataset == "lrs2":
            assert index["splits"] == {"test": 1, "train": 2}
        if dataset == "vox2":
            assert index["speakers"] == {"id00012": 2, "id00017": 1}
    out = tmp_path / "lrs3_shards"  # idempotent: a rerun prepares nothing and keeps the index
    before = (out / "index.json").read_bytes(), {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    capsys.readouterr()
    assert _prepare("lrs3", trees["lrs3"], out) == 0
    assert capsys.readouterr().out.startswith("prepared 0 clips now (0 failed, 4 already done or failed)")
    assert ((out / "index.json").read_bytes(), {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}) == before
