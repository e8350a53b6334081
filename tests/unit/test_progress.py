"""Job progress from stage reports (facespeak.core.progress): weighted, monotone, ETA; the
pipeline's StageClock (seconds per stage, nested stages, lazy frames)."""

import pytest

from facespeak.core.progress import (FACE, MOTION, MUX, RENDER, SPEECH, VOCODER, ProgressTracker, SpeechProgress, StageClock,
                                     stage_weights)


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


class _Ticks:
    """A clock that moves only when told (seconds)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_stage_clock_counts_the_innermost_open_stage_and_leaves_gaps_untimed():
    t = _Ticks()
    clock = StageClock(clock=t, gauge=lambda: t.t * 10)
    t.t = 1.0  # before any stage: untimed
    with clock.stage(RENDER):
        t.t = 3.0
        with clock.stage(MOTION):  # nested: the 4 s count for motion only
            t.t = 7.0
        t.t = 8.0
    t.t = 9.5
    with clock.stage(MOTION):
        t.t = 10.0
    assert clock.seconds == {RENDER: pytest.approx(3.0), MOTION: pytest.approx(4.5)}
    assert list(clock.seconds) == [RENDER, MOTION]  # the order the stages first started
    assert clock.gauge_at_end == {RENDER: 80.0, MOTION: 100.0}
    assert clock.elapsed() == 10.0 and sum(clock.seconds.values()) <= clock.elapsed()


def test_stage_clock_forwards_reports_and_times_a_lazy_iterator_per_item():
    t = _Ticks()
    seen = []
    clock = StageClock(lambda s, f: seen.append((s, f)), clock=t)

    def frames():
        for _ in range(3):
            t.t += 2.0  # producing a frame
            yield "frame"

    for i, _ in enumerate(clock.timed(RENDER, frames())):
        with clock.stage(MUX):
            t.t += 0.5
        clock.mark("first")
        clock(RENDER, (i + 1) / 3)  # a StageClock is itself an on_progress callback
    with clock.stage(MUX, report=True):
        t.t += 1.0
    assert clock.seconds == {RENDER: pytest.approx(6.0), MUX: pytest.approx(2.5)}
    assert clock.marks == {"first": pytest.approx(2.5)}
    assert seen == [(RENDER, pytest.approx(1 / 3)), (RENDER, pytest.approx(2 / 3)), (RENDER, 1.0), (MUX, 0.0), (MUX, 1.0)]
    assert StageClock.of(clock) is clock and StageClock.of(None).on_progress is None


def test_stage_clock_stage_reports_no_completion_when_the_block_fails():
    seen = []
    clock = StageClock(lambda s, f: seen.append((s, f)))
    with pytest.raises(RuntimeError), clock.stage(FACE, report=True):
        raise RuntimeError("no face")
    assert seen == [(FACE, 0.0)] and FACE in clock.seconds
    with clock.stage(SPEECH):  # the failed stage was closed: time goes to the new one
        pass
    assert list(clock.seconds) == [FACE, SPEECH]
