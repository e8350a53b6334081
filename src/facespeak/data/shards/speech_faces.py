"""The portraits the speech corpus's voices are given in shards (the ``speech`` layout's
``--faces`` when it names the face corpus folder): the project's voice-face pairing
(:func:`facespeak.data.face_bank.pair_voices_with_persons`, the rule the face bank of
``facespeak data prepare-tts`` uses), each paired voice getting the single-face images (photos
and video frames whose item has no ``face_box`` hint) of its persons."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ...core.errors import InputError
from ..real_faces import load_manifest

__all__ = ["paired_portraits"]


def paired_portraits(corpus: str | Path, faces_dir: str | Path) -> dict[str, list[Path]]:
    """``corpus`` (``manifest.jsonl``, ``voices.json``) and ``faces_dir`` (``manifest.json``,
    docs/datasheet_faces.md) -> {speaker: [image path, ...]} for every paired training voice."""
    # lazy: facespeak.data.face_bank loads cv2 (face analysis) at import
    from ..face_bank import pair_voices_with_persons

    corpus, faces_dir = Path(corpus), Path(faces_dir)
    if not (corpus / "voices.json").is_file():
        raise InputError(f"speech --faces {faces_dir}: expected {corpus / 'voices.json'}, found nothing")
    manifest = load_manifest(faces_dir)  # checks the face corpus's manifest and its format
    items = [it for it in manifest["items"] if it.get("face_box") is None]
    rows = [json.loads(ln) for ln in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    train = sorted({r["speaker"] for r in rows if r["split"] == "train"})
    voices = json.loads((corpus / "voices.json").read_text(encoding="utf-8"))
    pairing = pair_voices_with_persons(voices, train, manifest["persons"], Counter(it["person"] for it in items))
    return {s: [faces_dir / it["path"] for p in persons for it in items if it["person"] == p]
            for s, persons in pairing.items()}
