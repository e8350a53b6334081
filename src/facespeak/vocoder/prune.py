"""A smaller HiFi-GAN cut out of a bigger one: the warm start of a distilled student.

A student trained from scratch on a CPU never gets near the universal HiFi-GAN in the hours a
session has; one that *starts as a part of it* keeps its way of making phase and only has to
recover what the cut removed. :func:`prune_hifigan` maps a V1-layout state dict onto a config with
fewer channels and fewer multi-receptive-field branches (same upsampling rates and kernels):

- **Branches**: a student branch takes the weights of the teacher branch with the same kernel size
  and dilations (V1's k=3 branch costs 1/7 of the three; the MRF mean then averages fewer terms).
- **Channels**: every stage keeps one subset of its residual-stream channels (the upsampling
  conv's outputs, every resblock conv's inputs and outputs, the next stage's inputs): the
  channels whose weights carry the most energy, scored as the summed squared weights that write
  into the channel (upsampling conv) and read from it (kept resblock convs, next layer).

Pure (tensors in, tensors out); no file I/O.
"""

from __future__ import annotations

from typing import Mapping

import torch

from facespeak.core.errors import ConfigError

from .hifigan import HifiGanConfig

__all__ = ["prune_hifigan"]


def _branch_map(src: HifiGanConfig, dst: HifiGanConfig) -> list[int]:
    """For each student branch, the teacher branch with the same kernel and dilations."""
    teacher = [(k, list(d)) for k, d in zip(src.resblock_kernel_sizes, src.resblock_dilation_sizes)]
    out = []
    for k, d in zip(dst.resblock_kernel_sizes, dst.resblock_dilation_sizes):
        if (k, list(d)) not in teacher:
            raise ConfigError(f"prune: student branch kernel {k} dilations {list(d)} is not a teacher branch {teacher}")
        out.append(teacher.index((k, list(d))))
    return out


def _check(src: HifiGanConfig, dst: HifiGanConfig) -> None:
    same = ("n_mels", "upsample_rates", "upsample_kernel_sizes", "resblock")
    for name in same:
        if getattr(src, name) != getattr(dst, name):
            raise ConfigError(f"prune: student {name} {getattr(dst, name)} must equal the teacher's {getattr(src, name)}")
    if dst.upsample_initial_channel > src.upsample_initial_channel:
        raise ConfigError(f"prune: student channels {dst.upsample_initial_channel} exceed the teacher's "
                          f"{src.upsample_initial_channel}")


def prune_hifigan(state: Mapping[str, torch.Tensor], src: HifiGanConfig, dst: HifiGanConfig) -> dict[str, torch.Tensor]:
    """``state`` of a :class:`HifiGanGenerator` built with ``src`` -> a state dict for ``dst``."""
    _check(src, dst)
    branches = _branch_map(src, dst)
    stages = len(src.upsample_rates)
    pairs = src.resblock == "1"
    kinds = ("dilated", "plain") if pairs else ("convs",)

    def conv_keys(stage: int, branch: int) -> list[str]:
        n = len(src.resblock_dilation_sizes[branch])
        return [f"stages.{stage}.branches.{branch}.{kind}.{i}" for kind in kinds for i in range(n)]

    # kept channels of the residual stream entering stage 0 (input conv output) and after each stage
    keep: list[torch.Tensor] = []
    for level in range(stages + 1):
        c_src = src.upsample_initial_channel // 2**level
        c_dst = dst.upsample_initial_channel // 2**level
        if level == 0:
            score = state["input_conv.weight"].pow(2).flatten(1).sum(1)
            score = score + state["stages.0.upsample.weight"].pow(2).sum((1, 2))  # (C_in, C_out, k)
        else:
            up = state[f"stages.{level - 1}.upsample.weight"]  # (C_in, C_out, k): writes into level
            score = up.pow(2).sum((0, 2))
            for b in branches:
                for key in conv_keys(level - 1, b):
                    w = state[f"{key}.weight"]  # (C_out, C_in, k)
                    score = score + w.pow(2).sum((0, 2)) + w.pow(2).sum((1, 2))
            nxt = state[f"stages.{level}.upsample.weight"].pow(2).sum((1, 2)) if level < stages else \
                state["output_conv.weight"].pow(2).sum((0, 2))
            score = score + nxt
        if score.numel() != c_src:
            raise ConfigError(f"prune: state does not match the teacher config at level {level}")
        keep.append(torch.sort(torch.topk(score, c_dst).indices).values)

    out: dict[str, torch.Tensor] = {
        "input_conv.weight": state["input_conv.weight"][keep[0]].clone(),
        "input_conv.bias": state["input_conv.bias"][keep[0]].clone(),
        "output_conv.weight": state["output_conv.weight"][:, keep[stages]].clone(),
        "output_conv.bias": state["output_conv.bias"].clone(),
    }
    for s in range(stages):
        up = state[f"stages.{s}.upsample.weight"]
        out[f"stages.{s}.upsample.weight"] = up[keep[s]][:, keep[s + 1]].clone()
        out[f"stages.{s}.upsample.bias"] = state[f"stages.{s}.upsample.bias"][keep[s + 1]].clone()
        for j, b in enumerate(branches):
            for key in conv_keys(s, b):
                new = key.replace(f".branches.{b}.", f".branches.{j}.")
                w = state[f"{key}.weight"]
                out[f"{new}.weight"] = w[keep[s + 1]][:, keep[s + 1]].clone()
                out[f"{new}.bias"] = state[f"{key}.bias"][keep[s + 1]].clone()
    return out
