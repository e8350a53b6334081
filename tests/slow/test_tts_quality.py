"""The issue's speech-quality thresholds on the bundled TTS weights (`facespeak eval tts` defaults).

Needs the built corpora (corpus/faces, corpus/speech) and the bundled checkpoint; takes several
minutes on CPU. Run with ``pytest -m slow tests/slow/test_tts_quality.py``.
"""

from pathlib import Path

import pytest

from facespeak.eval.tts_eval import THRESHOLDS, TTSEvalConfig, run_tts_eval

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from facespeak.face.identity import bundled_identity_path
    from facespeak.pipeline import default_tts_path

    cfg = TTSEvalConfig(faces_dir=str(ROOT / "corpus" / "faces"), sentences_path=str(ROOT / "corpus" / "speech" / "sentences.jsonl"))
    for need in (default_tts_path(), bundled_identity_path(), Path(cfg.faces_dir) / "manifest.json", Path(cfg.sentences_path)):
        if not need.is_file():
            pytest.skip(f"{need} is missing (bundled weights / corpora not built yet)")
    out = tmp_path_factory.mktemp("tts_quality")
    return run_tts_eval(cfg, out, command="pytest tests/slow/test_tts_quality.py")


def test_selection_meets_the_issue_minimums(results):
    assert results["intelligibility"]["utterances"] >= 30 and results["intelligibility"]["portraits"] >= 5
    assert len(results["suitability"]["portraits"]) >= 10
    assert results["consistency"] and all(len(v["frames"]) >= 10 for v in results["consistency"])


def test_intelligibility(results):
    assert results["intelligibility"]["total_wer"] <= THRESHOLDS["wer_max"]


def test_voice_stays_with_the_person(results):
    for video in results["consistency"]:
        assert video["f_id"]["mean_pairwise_cosine"] >= THRESHOLDS["consistency_min"], video["person"]


def test_voice_gender_matches_the_face(results):
    assert results["suitability"]["gender_agreement"] >= THRESHOLDS["gender_agreement_min"]


def test_different_people_get_different_voices(results):
    assert results["suitability"]["same_gender_agreeing"]["mean"] <= THRESHOLDS["same_gender_cosine_max"]
