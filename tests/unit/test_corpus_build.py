"""Speech corpus: split planning, manifest round-trip, and a tiny real build with flite."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from facespeak.core.errors import ConfigError, InputError
from facespeak.data.speech_corpus import (
    SPLITS,
    CorpusConfig,
    ManifestRow,
    assign_sentence_splits,
    build_speech_corpus,
    plan_utterances,
    read_manifest,
    write_manifest,
)
from facespeak.data.voices import VOICES


def _sentences(n):
    return [f"Sentence number {w} is spoken clearly." for w in
            ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"][:n]]


def test_plan_splits_are_disjoint():
    rows = assign_sentence_splits(_sentences(12), n_eval=3, seed=1)
    assert sum(r["split"] == "eval" for r in rows) == 3
    jobs = plan_utterances(rows, ["a", "b", "c"], ["c"], per_voice_train=4, eval_voice_extra=2, seed=1)
    eval_ids = {r["sentence_id"] for r in rows if r["split"] == "eval"}
    train = [j for j in jobs if j.split == "train"]
    assert {j.voice for j in train} == {"a", "b"}
    assert not {j.sentence_id for j in train} & eval_ids  # held-out sentences never trained on
    assert {j.voice for j in jobs if j.split == "eval_voice"} == {"c"}
    for v in "abc":  # every voice speaks every held-out sentence
        assert eval_ids <= {j.sentence_id for j in jobs if j.voice == v}
    assert len({j.utt_id for j in jobs}) == len(jobs)
    assert all(j.split in SPLITS for j in jobs)
    assert sum(j.voice == "a" and j.split == "train" for j in jobs) == 4
    assert jobs == plan_utterances(rows, ["a", "b", "c"], ["c"], 4, 2, seed=1)


def test_manifest_round_trip(tmp_path):
    rows = [ManifestRow("v-s00001", "Hi there, how are you?", "hi there, how are you?", "v", "spk", "female",
                        1.25, "wavs/v/s00001.wav", "train", "s00001", False),
            ManifestRow("w-s00002", "Fine.", "fine.", "w", "spk2", "male", 0.5, "wavs/w/s00002.wav",
                        "eval_voice", "s00002", True)]
    path = write_manifest(tmp_path / "manifest.jsonl", rows)
    assert read_manifest(path) == rows


def test_manifest_rejects_bad_rows(tmp_path):
    bad = tmp_path / "m.jsonl"
    bad.write_text(json.dumps({"id": "x", "split": "train"}) + "\n")
    with pytest.raises(InputError, match="missing"):
        read_manifest(bad)


def test_config_validation():
    with pytest.raises(ConfigError):
        CorpusConfig(n_sentences=10, n_eval_sentences=10).validate()
    with pytest.raises(ConfigError):
        CorpusConfig(n_sentences=10, n_eval_sentences=2, per_voice_train=9).validate()


@pytest.mark.voices
def test_tiny_build_is_real_and_resumable(tmp_path):
    if VOICES["flite_awb"].missing_reason():
        pytest.skip("flite not installed")
    cfg = CorpusConfig.tiny()
    cfg.out_dir = str(tmp_path / "corpus")
    summary = build_speech_corpus(cfg, progress=False)
    rows = read_manifest(tmp_path / "corpus" / "manifest.jsonl")
    assert summary.dropped == 0 and len(rows) == sum(summary.utterances_by_split.values())
    assert {r.split for r in rows} == set(SPLITS)
    for r in rows:
        info = sf.info(str(tmp_path / "corpus" / r.wav))
        assert info.samplerate == 22050 and info.channels == 1
        assert abs(info.frames / info.samplerate - r.duration) < 1e-3
    voices = json.loads((tmp_path / "corpus" / "voices.json").read_text())
    assert voices["flite_slt"]["role"] == "eval_voice" and voices["flite_awb"]["role"] == "train"
    mtimes = {r.wav: (tmp_path / "corpus" / r.wav).stat().st_mtime_ns for r in rows}
    again = build_speech_corpus(cfg, progress=False)  # resume: nothing re-synthesised
    assert again.utterances_by_split == summary.utterances_by_split
    assert mtimes == {r.wav: (tmp_path / "corpus" / r.wav).stat().st_mtime_ns for r in rows}


@pytest.mark.voices
def test_resume_with_different_sentences_is_refused(tmp_path):
    if VOICES["flite_awb"].missing_reason():
        pytest.skip("flite not installed")
    cfg = CorpusConfig.tiny()
    cfg.out_dir = str(tmp_path / "corpus")
    cfg.voices, cfg.eval_voices, cfg.per_voice_train = ("flite_awb", "flite_rms"), ("flite_rms",), 1
    build_speech_corpus(cfg, progress=False)
    cfg.seed = 1  # another sentence plan: old wavs would carry the wrong text
    with pytest.raises(ConfigError, match="different sentences"):
        build_speech_corpus(cfg, progress=False)
