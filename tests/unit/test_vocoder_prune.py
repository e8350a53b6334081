"""A HiFi-GAN student cut out of a bigger generator keeps the teacher's weights where it can."""

from __future__ import annotations

import pytest
import torch

from facespeak.core.errors import ConfigError
from facespeak.vocoder.hifigan import HifiGanConfig, HifiGanGenerator
from facespeak.vocoder.prune import prune_hifigan


def _teacher() -> tuple[HifiGanGenerator, HifiGanConfig]:
    cfg = HifiGanConfig(upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8], upsample_initial_channel=64,
                        resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 3]])
    torch.manual_seed(0)
    return HifiGanGenerator(cfg).eval(), cfg


def test_cut_with_every_channel_and_branch_is_the_teacher_itself() -> None:
    teacher, cfg = _teacher()
    student = HifiGanGenerator(cfg).eval()
    student.load_state_dict(prune_hifigan(teacher.state_dict(), cfg, cfg))
    mel = torch.randn(1, 80, 12)
    with torch.no_grad():
        torch.testing.assert_close(student(mel), teacher(mel))


def test_smaller_student_loads_strictly_and_takes_the_strongest_channels() -> None:
    teacher, cfg = _teacher()
    state = teacher.state_dict()
    # make input-conv channel 5 by far the strongest: it must survive the cut
    state["input_conv.weight"][5] *= 50
    small = HifiGanConfig(upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8], upsample_initial_channel=32,
                          resblock_kernel_sizes=[5], resblock_dilation_sizes=[[1, 3]])
    cut = prune_hifigan(state, cfg, small)
    student = HifiGanGenerator(small)
    student.load_state_dict(cut, strict=True)
    assert any(torch.equal(row, state["input_conv.weight"][5]) for row in cut["input_conv.weight"])
    # the k=5 branch of the student is a slice of the teacher's k=5 branch (index 1), not of k=3
    w_student = cut["stages.0.branches.0.dilated.0.weight"]
    assert w_student.shape[-1] == 5
    teacher_w = state["stages.0.branches.1.dilated.0.weight"]
    assert any(torch.equal(w_student[0, 0], teacher_w[i, j]) for i in range(teacher_w.shape[0]) for j in range(teacher_w.shape[1]))
    with torch.no_grad():
        assert torch.isfinite(student(torch.randn(1, 80, 10))).all()


def test_impossible_cuts_are_config_errors() -> None:
    _, cfg = _teacher()
    state = HifiGanGenerator(cfg).state_dict()
    with pytest.raises(ConfigError, match="not a teacher branch"):
        prune_hifigan(state, cfg, HifiGanConfig(upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
                                                upsample_initial_channel=32, resblock_kernel_sizes=[7],
                                                resblock_dilation_sizes=[[1, 3]]))
    with pytest.raises(ConfigError, match="exceed"):
        prune_hifigan(state, cfg, HifiGanConfig(upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
                                                upsample_initial_channel=128, resblock_kernel_sizes=[3],
                                                resblock_dilation_sizes=[[1, 3]]))
    with pytest.raises(ConfigError, match="resblock"):
        prune_hifigan(state, cfg, HifiGanConfig.tiny())
