"""Shared by the shard tests: real talking clips rendered offline by ``facespeak say`` (a real
photo speaking TTS speech) and the dataset trees (LRS3, LRS2, VoxCeleb2 layouts) built from them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, say
from facespeak.video.reader import read_video
from facespeak.video.writer import VideoConfig, write_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

SENTENCES = ["Open the door.", "Good morning to you.", "We met at noon."]


def render_clips(tmp: Path) -> list[Path]:
    """Three short talking clips (256 px, 25 fps, H.264 + AAC) of two faces, saying :data:`SENTENCES`."""
    fs = FaceSpeak.from_bundled(threads=1)
    portraits = [tmp / "a.png", tmp / "b.png"]
    Image.fromarray(face_photos.astronaut()).save(portraits[0])
    Image.fromarray(face_photos.head(1.0, flip=True)).save(portraits[1])
    out = []
    for i, text in enumerate(SENTENCES):
        out.append(tmp / f"{i}.mp4")
        say(fs, str(portraits[i % 2]), text, out[-1], SpeechOptions(seed=i, steps=2), VideoOptions(size="256"))
    return out


def lrs_txt(text: str, table: bool) -> str:
    """An LRS transcript file (``Text:``, ``Conf:``, and with ``table`` the word timings)."""
    words = text.upper().strip(".").split()
    rows = "".join(f"{w} {0.3 * k:.2f} {0.3 * k + 0.25:.2f} 4.0\n" for k, w in enumerate(words))
    return f"Text:  {' '.join(words)}\nConf:  4\n" + (f"\nWORD START END ASDSCORE\n{rows}" if table else "")


def put(src: Path, dst: Path, txt: str | None = None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    if txt is not None:
        dst.with_suffix(".txt").write_text(txt)


def split_audio(src: Path, mp4: Path, m4a: Path) -> None:
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


def dataset_trees(root: Path, clips: list[Path]) -> dict[str, Path]:
    """LRS3 (with one corrupt clip), LRS2 and VoxCeleb2 trees of the three ``clips``."""
    lrs3, lrs2, vox2 = root / "LRS3", root / "lrs2", root / "VoxCeleb2"
    put(clips[0], lrs3 / "trainval" / "0af00UcTOSc" / "50001.mp4", lrs_txt(SENTENCES[0], True))
    put(clips[1], lrs3 / "test" / "0Fi83BHQsMA" / "00002.mp4", lrs_txt(SENTENCES[1], True))
    put(clips[2], lrs3 / "pretrain" / "0af00UcTOSc" / "00001.mp4", lrs_txt(SENTENCES[2], True))
    (lrs3 / "trainval" / "0af00UcTOSc" / "50002.mp4").write_bytes(clips[0].read_bytes()[:3000])  # corrupt
    (lrs3 / "trainval" / "0af00UcTOSc" / "50002.txt").write_text(lrs_txt("Cut short.", True))
    for i, vid in enumerate(["5535415699068794046/00001", "5535415699068794046/00002", "6330311066473698535/00011"]):
        put(clips[i], lrs2 / "main" / f"{vid}.mp4", lrs_txt(SENTENCES[i], False))
    (lrs2 / "train.txt").write_text("5535415699068794046/00001\n5535415699068794046/00002\n")
    (lrs2 / "test.txt").write_text("6330311066473698535/00011 NF\n")
    put(clips[0], vox2 / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00001.mp4")
    put(clips[2], vox2 / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00002.mp4")
    split_audio(clips[1], vox2 / "test" / "mp4" / "id00017" / "01dfn2spqyE" / "00001.mp4",
                vox2 / "test" / "aac" / "id00017" / "01dfn2spqyE" / "00001.m4a")
    return {"lrs3": lrs3, "lrs2": lrs2, "vox2": vox2}
