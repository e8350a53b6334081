"""Job progress from stage reports (facespeak.core.progress): weighted, monotone, ETA."""

import pytest

from facespeak.core.progress import FACE, RENDER, SPEECH, VOCODER, ProgressTracker, SpeechProgress, stage_weights


def test_fraction_is_the_weighted_sum_of_stage_fractions_and_never_goes_back():
    t = [0.0]
    tracker = ProgressTracker({FACE: 1.0, SPEECH: 3.0}, clock=lambda: t[0])
    tracker.update(FACE, 1.0)
    assert tracker.snapshot().fraction == pytest.approx(0.25)
    tracker.update(SPEECH, 0.5)
    tracker.update(SPEECH, 0.2)  # a late, smaller report does not move it back
    snap = tracker.snapshot()
    assert snap.stage == SPEECH and snap.fraction == pytest.approx(0.25 + 0.75 * 0.5)
    assert snap.eta_s is None  # no time has passed: no ETA yet
    t[0] = 10.0
    assert tracker.snapshot().eta_s == pytest.approx(10.0 * (1 - 0.625) / 0.625)
    tracker.update("loading models", 0.0)  # an unweighted stage only names what is going on
    assert tracker.snapshot().fraction == pytest.approx(0.625)


def test_speech_progress_weights_chunks_by_length_and_ends_at_one():
    seen = []
    sp = SpeechProgress(["a" * 10, "b" * 30], steps=4, on_progress=lambda s, f: seen.append((s, f)))
    sp.step(0, 2)
    assert seen[-1] == (SPEECH, pytest.approx(5 / 40))
    sp.decoded(0)
    assert seen[-2:] == [(SPEECH, pytest.approx(10 / 40)), (VOCODER, 0.0)]
    sp.vocoded(0)
    sp.step(1, 4)
    sp.decoded(1)
    sp.vocoded(1)
    assert seen[-1] == (VOCODER, pytest.approx(1.0))
    speech = [f for s, f in seen if s == SPEECH]
    assert speech == sorted(speech) and speech[-1] == pytest.approx(1.0)


def test_stage_weights_grow_with_speech_and_steps():
    short, long = stage_weights("video", 1.0, 10), stage_weights("video", 10.0, 10)
    assert short[FACE] == long[FACE] and long[RENDER] == pytest.approx(10 * short[RENDER])
    assert stage_weights("audio", 5.0, 20)[SPEECH] == pytest.approx(2 * stage_weights("audio", 5.0, 10)[SPEECH])
    assert RENDER not in stage_weights("audio", 5.0, 10)
