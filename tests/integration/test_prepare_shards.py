"""End to end: tiny LRS3-, LRS2- and VoxCeleb2-layout datasets of real talking clips (rendered
offline by ``facespeak say``: a real photo speaking TTS speech), prepared into WebDataset shards
by ``facespeak data prepare ... --workers 2``, read back with ``webdataset``; a rerun does no
work and leaves the same index; a corrupt clip is logged with its reason."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facespeak.cli.main import main
from facespeak.data.shards import decode_sample, iter_shards, read_failures
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, default_tts_path, say
from facespeak.video.reader import probe_video, read_video
from facespeak.video.writer import VideoConfig, write_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

SENTENCES = ["Open the door.", "Good morning to you.", "We met at noon."]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[Path]:
    """Three short talking clips (256 px, 25 fps, H.264 + AAC) of two faces."""
    tmp = tmp_path_factory.mktemp("rendered")
    fs = FaceSpeak.from_bundled(threads=1)
    portraits = [tmp / "a.png", tmp / "b.png"]
    Image.fromarray(face_photos.astronaut()).save(portraits[0])
    Image.fromarray(face_photos.head(1.0, flip=True)).save(portraits[1])
    out = []
    for i, text in enumerate(SENTENCES):
        out.append(tmp / f"{i}.mp4")
        say(fs, str(portraits[i % 2]), text, out[-1], SpeechOptions(seed=i, steps=2), VideoOptions(size="256"))
    return out


def _lrs_txt(text: str, table: bool) -> str:
    words = text.upper().strip(".").split()
    rows = "".join(f"{w} {0.3 * k:.2f} {0.3 * k + 0.25:.2f} 4.0\n" for k, w in enumerate(words))
    return f"Text:  {' '.join(words)}\nConf:  4\n" + (f"\nWORD START END ASDSCORE\n{rows}" if table else "")


def _put(src: Path, dst: Path, txt: str | None = None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    if txt is not None:
        dst.with_suffix(".txt").write_text(txt)


def _split_audio(src: Path, mp4: Path, m4a: Path) -> None:
    """VoxCeleb2's other form: a silent mp4 plus the speech as AAC in an m4a."""
    import av

    data = read_video(src)
    mp4.parent.mkdir(parents=True, exist_ok=True)
    write_video(mp4, data.frames, config=VideoConfig.tiny())
    m4a.parent.mkdir(parents=True, exist_ok=True)
    rate = data.info.sample_rate
    with av.open(str(m4a), "w", format="mp4") as c:
        stream = c.add_stream("aac", rate=rate)
        frame = av.AudioFrame.from_ndarray(data.audio[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)


def _trees(root: Path, clips: list[Path]) -> dict[str, Path]:
    lrs3, lrs2, vox2 = root / "LRS3", root / "lrs2", root / "VoxCeleb2"
    _put(clips[0], lrs3 / "trainval" / "0af00UcTOSc" / "50001.mp4", _lrs_txt(SENTENCES[0], True))
    _put(clips[1], lrs3 / "test" / "0Fi83BHQsMA" / "00002.mp4", _lrs_txt(SENTENCES[1], True))
    _put(clips[2], lrs3 / "pretrain" / "0af00UcTOSc" / "00001.mp4", _lrs_txt(SENTENCES[2], True))
    (lrs3 / "trainval" / "0af00UcTOSc" / "50002.mp4").write_bytes(clips[0].read_bytes()[:3000])  # corrupt
    (lrs3 / "trainval" / "0af00UcTOSc" / "50002.txt").write_text(_lrs_txt("Cut short.", True))
    for i, vid in enumerate(["5535415699068794046/00001", "5535415699068794046/00002", "6330311066473698535/00011"]):
        _put(clips[i], lrs2 / "main" / f"{vid}.mp4", _lrs_txt(SENTENCES[i], False))
    (lrs2 / "train.txt").write_text("5535415699068794046/00001\n5535415699068794046/00002\n")
    (lrs2 / "test.txt").write_text("6330311066473698535/00011 NF\n")
    _put(clips[0], vox2 / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00001.mp4")
    _put(clips[2], vox2 / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00002.mp4")
    _split_audio(clips[1], vox2 / "test" / "mp4" / "id00017" / "01dfn2spqyE" / "00001.mp4",
                 vox2 / "test" / "aac" / "id00017" / "01dfn2spqyE" / "00001.m4a")
    return {"lrs3": lrs3, "lrs2": lrs2, "vox2": vox2}


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
    trees = _trees(tmp_path / "data", rendered)
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
