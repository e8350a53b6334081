"""`facespeak eval MANIFEST`: generate (or take) talking-face videos for rows of portrait + text,
score them, write ``results.json`` and ``report.html``.

Manifest: JSON lines (``.jsonl``/``.ndjson``/``.json``: one object per line) or CSV with a
header. Columns (paths relative to the manifest's folder):

============== ======== ============================================================
column         required meaning
============== ======== ============================================================
portrait       yes      source image
text           yes      what the face says (also the WER reference)
id             no       row name (default: ``row<N>``)
person         no       identity label for the Fig. 5 map (default: portrait file stem)
video          no       an already generated video to score (else it is generated)
reference_video no      a real clip: LMD, C-SIM / F0 RMSE / MCD on its audio, FID set
reference_audio no      real speech when there is no reference video (C-SIM, F0 RMSE, MCD)
face_index     no       which face of a group photo (default: the largest)
seed           no       generation seed (default: the config's)
============== ======== ============================================================
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from facespeak.core.errors import InputError

from facespeak.audio.io import read_audio
from facespeak.face.analysis import load_portrait
from .av_scoring import AVEvalConfig, Scored, Scorer, load_media
from .features import bilabial_intervals, evenly_spaced, inception_features
from .metrics.face import within_identity_variance
from .metrics.fid import frechet_distance
from .report import write_report

__all__ = ["ManifestRow", "read_manifest", "lazy_pipeline", "generate_video", "run_manifest_eval", "summarise", "feature_map", "json_default"]

log = logging.getLogger(__name__)

_COLUMNS = ("id", "portrait", "text", "person", "video", "reference_video", "reference_audio", "face_index", "seed")


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row with paths resolved against the manifest's folder."""

    id: str
    portrait: Path
    text: str
    person: str
    video: Path | None = None
    reference_video: Path | None = None
    reference_audio: Path | None = None
    face_index: int | None = None
    seed: int | None = None


def _raw_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: expected one JSON object per line, got {line[:60]!r} ({exc})") from None
        return rows
    return [dict(r) for r in csv.DictReader(text.splitlines())]


def _path(base: Path, value: Any) -> Path | None:
    if value in (None, ""):
        return None
    p = Path(str(value))
    return p if p.is_absolute() else base / p


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse and check a manifest (see the module docstring); files must exist."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"expected a manifest file (.jsonl or .csv), found nothing at {p}")
    rows = []
    for n, raw in enumerate(_raw_rows(p)):
        unknown = set(raw) - set(_COLUMNS)
        if unknown:
            raise InputError(f"{p} row {n}: unknown columns {sorted(unknown)}; expected some of {list(_COLUMNS)}")
        if not raw.get("portrait") or not str(raw.get("text") or "").strip():
            raise InputError(f"{p} row {n}: expected non-empty 'portrait' and 'text', got {raw}")
        portrait = _path(p.parent, raw["portrait"])
        row = ManifestRow(id=str(raw.get("id") or f"row{n}"), portrait=portrait, text=str(raw["text"]).strip(),
                          person=str(raw.get("person") or portrait.stem), video=_path(p.parent, raw.get("video")),
                          reference_video=_path(p.parent, raw.get("reference_video")),
                          reference_audio=_path(p.parent, raw.get("reference_audio")),
                          face_index=int(raw["face_index"]) if raw.get("face_index") not in (None, "") else None,
                          seed=int(raw["seed"]) if raw.get("seed") not in (None, "") else None)
        for name in ("portrait", "video", "reference_video", "reference_audio"):
            f = getattr(row, name)
            if f is not None and not f.is_file():
                raise InputError(f"{p} row {n} ({row.id}): {name} file not found: {f}")
        rows.append(row)
    if not rows:
        raise InputError(f"{p}: expected at least one row, found none")
    if len({r.id for r in rows}) != len(rows):
        raise InputError(f"{p}: row ids must be unique")
    return rows


def lazy_pipeline(tts_weights: str | None) -> Callable[[], Any]:
    """A loader that builds ``FaceSpeak`` on its first call and returns the same one after
    (evaluations that only score given videos never load the models)."""
    loaded: list[Any] = []

    def get() -> Any:
        if not loaded:
            # lazy: loads numba via tts.alignment (about 1 s)
            from facespeak.pipeline import FaceSpeak

            loaded.append(FaceSpeak.from_bundled(tts_weights))
        return loaded[0]

    return get


def generate_video(fs: Any, portrait: Any, row: ManifestRow, cfg: AVEvalConfig, out: Path) -> tuple[Path, np.ndarray | None]:
    """Our pipeline's video for the row, and its bilabial timings (from the speech ``say`` made)."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import SpeechOptions, VideoOptions, say

    speech = SpeechOptions.with_defaults(seed=cfg.seed if row.seed is None else row.seed, steps=cfg.steps,
                                         temperature=cfg.temperature)
    result = say(fs, portrait, row.text, out, speech, VideoOptions(size=cfg.size, still=cfg.still))
    bilabials = None
    if cfg.phoneme_timings:
        bilabials = bilabial_intervals(result.chunks, result.sample_rate, fs.mel_spec.frame_rate, speech.pause_s)
    return result.path, bilabials


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every numeric metric over rows (``nan`` / missing skipped), with counts."""
    keys = dict.fromkeys(k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    out: dict[str, Any] = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if isinstance(r.get(k), (int, float)) and r.get(k) is not None], float)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if vals.size else None
    agree = [r["gender_agrees"] for r in rows if r.get("gender_agrees") is not None]
    out["gender_agreement"] = float(np.mean(agree)) if agree else None
    out["rows"] = len(rows)
    return out


def feature_map(groups: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[dict[str, Any] | None, Any]:
    """Fig. 5 from ``(person, f (N, D), f_id (N, D))`` groups -> (numbers: within-identity
    variance share of ``f`` and of ``f_id``, lower = tighter identity clusters; the arrays
    ``(labels, f, f_id)`` for the plot), or ``(None, None)`` with fewer than 2 points."""
    groups = [g for g in groups if len(g[1])]
    if sum(len(g[1]) for g in groups) < 2:
        return None, None
    labels = [p for p, f, _ in groups for _ in range(len(f))]
    f = np.concatenate([g[1] for g in groups])
    f_id = np.concatenate([g[2] for g in groups])
    numbers = {"identities": len(set(labels)), "points": len(labels),
               "within_identity_variance_f": within_identity_variance(f, labels),
               "within_identity_variance_f_id": within_identity_variance(f_id, labels)}
    return numbers, (labels, f, f_id)


def _fid(generated: list[np.ndarray], real: list[np.ndarray]) -> float | None:
    gen = [g for g in generated if len(g)]
    ref = [r for r in real if len(r)]
    if sum(map(len, gen)) < 2 or sum(map(len, ref)) < 2:
        return None
    return frechet_distance(np.concatenate(gen), np.concatenate(ref))


def _score_row(row: ManifestRow, cfg: AVEvalConfig, scorer: Scorer, get_fs: Any, video_dir: Path) -> tuple[dict[str, Any], Scored, np.ndarray]:
    portrait = load_portrait(row.portrait, row.face_index)
    video, bilabials, generated = row.video, None, row.video is None
    if video is None:
        video, bilabials = generate_video(get_fs(), portrait, row, cfg, video_dir / f"{row.id}.mp4")
    ref = load_media(row.reference_video) if row.reference_video else None
    ref_audio = read_audio(row.reference_audio) if row.reference_audio else None
    scored = scorer.score(load_media(video), portrait, row.text, ref, ref_audio, bilabials)
    ref_inc = inception_features(ref.frames[evenly_spaced(ref.track, cfg.fid_frames)]) if ref is not None else np.zeros((0, 2048))
    record = {"id": row.id, "person": row.person, "portrait": str(row.portrait), "text": row.text,
              "video": str(video), "generated": generated, "reference_video": str(row.reference_video or "") or None}
    record.update(scored.metrics)
    return record, scored, ref_inc


def run_manifest_eval(manifest: str | Path, out_dir: str | Path, cfg: AVEvalConfig | None = None,
                      command: str = "") -> dict[str, Any]:
    """Score every manifest row; write ``results.json`` and ``report.html`` into ``out_dir``."""
    import torch
    from tqdm import tqdm

    cfg = cfg or AVEvalConfig()
    rows = read_manifest(manifest)
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    scorer, get_fs = Scorer(cfg), lazy_pipeline(cfg.tts_weights)

    records, curves, gen_inc, ref_inc, groups = [], {}, [], [], []
    for row in tqdm(rows, desc="eval", unit="video", disable=bool(os.environ.get("FACESPEAK_NO_PROGRESS"))):
        record, scored, real = _score_row(row, cfg, scorer, get_fs, out / "videos")
        records.append(record)
        curves[row.id] = scored.curves
        gen_inc.append(scored.inception)
        ref_inc.append(real)
        groups.append((row.person, scored.f, scored.f_id))
    results = {"command": command, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "manifest": str(Path(manifest).resolve()), "config": asdict(cfg), "rows": records,
               "summary": summarise(records), "fid": _fid(gen_inc, ref_inc)}
    results["feature_map"], features = feature_map(groups)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=json_default))
    write_report(results, curves, out / "report.html", features=features)
    log.info("eval: results in %s", out)
    return results


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars/arrays and paths (``nan`` stays JSON NaN)."""
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")
