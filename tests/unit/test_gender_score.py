"""The TTS's gender input from the estimator's P(female) (decisions.md #22)."""

from __future__ import annotations

import pytest

from facespeak.pipeline import CHILD_GENDER_SCORE, GENDER_SCORE_FLOOR, gender_score


@pytest.mark.parametrize("p_female, expected", [
    (0.0, 1.0), (1.0, -1.0),  # confident estimates pass through
    (0.1, 0.8), (0.85, -0.7),
    (0.45, GENDER_SCORE_FLOOR), (0.6, -GENDER_SCORE_FLOOR),  # undecided: pushed to the floor, sign kept
    (0.5, GENDER_SCORE_FLOOR),  # a tie reads male (documented)
])
def test_gender_score_keeps_the_side_and_never_falls_below_the_floor(p_female: float, expected: float) -> None:
    assert gender_score(p_female) == pytest.approx(expected)


def test_floor_can_be_turned_off() -> None:
    assert gender_score(0.45, floor=0.0) == pytest.approx(0.1)


@pytest.mark.parametrize("p_female", [0.02, 0.5, 0.98])
def test_a_child_gets_the_high_voice_whatever_the_estimate(p_female: float) -> None:
    assert gender_score(p_female, child=True) == CHILD_GENDER_SCORE < 0  # decisions.md #35
