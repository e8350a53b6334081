"""The TTS evaluation's selection, reporting and benchmark helpers (fast; no models)."""

import json

import numpy as np
import pytest
from face_photos import group
from PIL import Image

from facespeak.core.errors import InputError
from facespeak.core.progress import FACE, SPEECH, TEXT, VOCODER, StageClock
from facespeak.eval.bench import SAY_STAGES, StageTimes, bench_text, format_table, stage_seconds
from facespeak.eval.selection import heldout_portraits, heldout_sentences, load_face, video_frame_sets
from facespeak.eval.tts_eval import THRESHOLDS, _checks, _pair_stats, summary_markdown


def _manifest():
    persons = {"f1": ("female", "heldout"), "f2": ("female", "heldout"), "m1": ("male", "heldout"),
               "m2": ("male", "heldout"), "m3": ("male", "heldout"), "t": ("female", "train"), "vid": ("male", "heldout")}
    items = [{"path": f"images/{p}.jpg", "person": p, "face_box": None, "kind": "photo", "split": s, "source_path": f"{p}.jpg"}
             for p, (_, s) in persons.items() if p not in ("vid", "t")]
    for person, video, n in (("vid", "short.mp4", 6), ("vid", "long.mp4", 12), ("t", "train.mp4", 40)):
        items += [{"path": f"frames/{video}/{i:05d}.jpg", "person": person, "face_box": None, "kind": "frame",
                   "split": persons[person][1], "source_path": f"{video}#frame={2 * i}"} for i in range(n)]
    return {"format": 1, "persons": {p: {"gender": g, "split": s} for p, (g, s) in persons.items()}, "items": items}


def test_heldout_portraits_one_per_person_balanced_and_never_train(tmp_path):
    picked = heldout_portraits(_manifest(), tmp_path, 4)
    assert [p.gender for p in picked] == ["female", "male", "female", "male"]
    everyone = heldout_portraits(_manifest(), tmp_path, 100)
    assert sorted(p.person for p in everyone) == ["f1", "f2", "m1", "m2", "m3", "vid"]
    vid = next(p for p in everyone if p.person == "vid")
    assert vid.kind == "frame"  # no photo: a video frame stands in
    assert heldout_portraits(_manifest(), tmp_path, 4) == picked  # deterministic


def test_video_frames_spread_over_the_longest_video_heldout_first(tmp_path):
    sets = video_frame_sets(_manifest(), tmp_path, 10, max_videos=2)
    assert [s[0].person for s in sets] == ["vid", "t"]
    frames = [int(f.source_path.split("=")[1]) for f in sets[0]]
    assert all(f.source_path.startswith("long.mp4") for f in sets[0])
    assert frames[0] == 0 and frames[-1] == 22 and len(set(frames)) == 10
    t_frames = [int(f.source_path.split("=")[1]) for f in sets[1]]
    assert t_frames[0] == 0 and t_frames[-1] == 78 and np.all(np.diff(t_frames) >= 8)
    assert video_frame_sets(_manifest(), tmp_path, 50) == []


def test_heldout_sentences(tmp_path):
    path = tmp_path / "sentences.jsonl"
    rows = [{"sentence_id": f"s{i:03d}", "text": f"Sentence {i}.", "split": "eval" if i % 3 == 0 else "train"} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in reversed(rows)))
    got = heldout_sentences(path, 3)
    assert [s.sentence_id for s in got] == ["s000", "s003", "s006"]
    with pytest.raises(InputError, match="sentences.jsonl"):
        heldout_sentences(tmp_path / "missing.jsonl", 3)


def test_load_face_picks_the_face_in_the_box(tmp_path):
    from facespeak.eval.selection import FaceItem

    image = group((1.0, 0.8, 0.9))
    Image.fromarray(image).save(tmp_path / "g.png")
    largest = load_face(FaceItem("p", tmp_path / "g.png", None, "female", "heldout", "photo", "g.png"))
    others = [f for f in largest.faces if f is not largest.face]
    target = min(others, key=lambda f: f.area)
    picked = load_face(FaceItem("p", tmp_path / "g.png", tuple(v + 3 for v in target.box), "female", "heldout", "photo", "g.png"))
    assert picked.face is not picked.faces[0] and picked.face.box == pytest.approx(target.box, abs=1)


def _results(wer=0.05, cos_f_id=(0.95, 0.8), agreement=1.0, same_mean=0.6):
    videos = [{"person": f"v{i}", "split": "heldout", "frames": ["a", "b"],
               "f_id": {"mean_pairwise_cosine": c, "feature_mean_pairwise_cosine": 0.99},
               "f": {"mean_pairwise_cosine": c - 0.1, "feature_mean_pairwise_cosine": 0.9}} for i, c in enumerate(cos_f_id)]
    return {"created": "now", "command": "facespeak eval tts", "git_commit": None,
            "checkpoint": {"path": "x.safetensors", "sha256": "ab" * 32},
            "intelligibility": {"total_wer": wer, "errors": 1, "words": 20, "utterances": 2,
                                "per_portrait": {"a": {"wer": wer, "words": 20}}},
            "consistency": videos,
            "suitability": {"gender_agreement": agreement, "same_gender": {"pairs": 1, "max": same_mean, "mean": same_mean},
                            "cross_gender": {"pairs": 0, "max": None, "mean": None},
                            "portraits": [{"person": "a", "gender_label": "male", "gender_estimate": "male", "p_female": 0.1,
                                           "median_f0_hz": 110.0, "f0_range": "male", "agrees": True}]}}


def test_checks_apply_the_issue_thresholds():
    r = _results()
    checks = _checks(r)
    assert checks["wer"]["pass"] and checks["gender_agreement"]["pass"] and checks["same_gender_cosine_mean"]["pass"]
    assert not checks["consistency_f_id"]["pass"]  # the worst video (0.8) decides
    assert checks["consistency_f_id"]["value"] == 0.8
    assert not _checks(_results(wer=THRESHOLDS["wer_max"] + 0.01))["wer"]["pass"]
    assert not _checks(_results(same_mean=0.9))["same_gender_cosine_mean"]["pass"]
    assert not _checks(_results(agreement=float("nan")))["gender_agreement"]["pass"]


def test_distinctness_check_leaves_out_faces_whose_voice_missed_their_gender():
    # three women; the third got a male-range voice: far from the other two for the wrong reason
    sim = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.5], [0.5, 0.5, 1.0]])
    labels = ["female"] * 3
    every = _pair_stats(sim, labels, True)
    agreeing = _pair_stats(sim, labels, True, [True, True, False])
    assert every["pairs"] == 3 and every["mean"] == pytest.approx(0.6333, abs=1e-4)
    assert agreeing["pairs"] == 1 and agreeing["mean"] == pytest.approx(0.9)
    r = _results(same_mean=0.6)
    r["suitability"]["same_gender_agreeing"] = agreeing
    check = _checks(r)["same_gender_cosine_mean"]
    assert check["value"] == pytest.approx(0.9) and not check["pass"]


def test_summary_lists_every_check():
    r = _results()
    r["checks"] = _checks(r)
    md = summary_markdown(r)
    for name in r["checks"]:
        assert f"| {name} |" in md
    assert "| consistency_f_id | 0.800 | >= 0.900 | NO |" in md and "5.0 %" in md


def test_bench_text_length_scales_with_seconds():
    short, long = bench_text(5), bench_text(20)
    assert len(long.split()) == pytest.approx(4 * len(short.split()), rel=0.1)
    assert long.endswith(".")


def test_bench_stages_are_read_from_the_pipelines_clock():
    t = [0.0]
    clock = StageClock(clock=lambda: t[0])
    for stage, seconds in ((FACE, 0.5), (TEXT, 0.25), (SPEECH, 2.0), (VOCODER, 1.0)):
        with clock.stage(stage):
            t[0] += seconds
    assert stage_seconds(clock, ("text", "face", "acoustic", "vocoder", "motion")) == {
        "text": 0.25, "face": 0.5, "acoustic": 2.0, "vocoder": 1.0, "motion": 0.0}
    assert SAY_STAGES == ("text", "face", "acoustic", "vocoder", "motion", "render", "mux")


def test_format_table():
    t = StageTimes(load=2.0, audio_seconds=10.0, chunks=2)
    t.stages.update({"text": 0.1, "face": 0.4, "acoustic": 1.5, "vocoder": 5.0})
    result = {"machine": {"torch_threads": 2}, "warm": {"load_s": t.load, **{f"{k}_s": v for k, v in t.stages.items()},
              "synthesis_s": t.synthesis, "audio_seconds": t.audio_seconds, "rtf": t.rtf, "chunks": 2, "peak_rss_mb": 900.0}}
    assert t.rtf == pytest.approx(0.7)
    table = format_table(result)
    assert "0.700" in table and "vocoder" in table and "cold" not in table
