"""Evaluation of latent-TFG runs: held-out self-reenactment (stage ``tfg``) and joint-stage
window renders (stage ``joint``). L1 in pixel units of [-1, 1] against the copy-the-source
baseline, dlib identity distances, and the spread / scale of the latent codes.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.talking_clips import TalkingClipDataset, TalkingClips, collate_clips
from ..face.identity import descriptor_in_box
from ..tfg.latent import LatentTFG

__all__ = ["evaluate_reenactment", "evaluate_joint_windows"]


def _descriptor(image: np.ndarray, upscale: int = 256) -> np.ndarray | None:
    """dlib descriptor of the face of an aligned crop (enlarged to ``upscale`` px first).

    The face box is the alignment template's (same for real and generated frames: small
    generated crops are often missed by the detector, which would bias the metric)."""
    import cv2

    big = np.ascontiguousarray(cv2.resize(image, (upscale, upscale), interpolation=cv2.INTER_CUBIC))
    lo, hi = int(0.22 * upscale), int(0.84 * upscale)
    return descriptor_in_box(big, (lo, lo, hi, hi))


def _spread(v: torch.Tensor) -> float:
    """Mean distance of ``(N, D)`` vectors to their mean, relative to their mean norm."""
    return float((v - v.mean(0)).norm(dim=1).mean() / v.norm(dim=1).mean())


def evaluate_reenactment(model: LatentTFG, frames: torch.Tensor, n_sources: int = 3,
                         identity: bool = True) -> dict[str, float]:
    """Self-reenactment on held-out frames ``(N, 3, H, W)`` in [-1, 1].

    Pairs: ``n_sources`` evenly spaced source frames x every frame as driving. Returns L1 of
    the model and of the copy-the-source baseline (pixel units of [-1, 1]), their ratio, dlib
    identity distance (generated vs real driving frame, where a face is found in both),
    and the spread of ``f_id`` and of ``f`` across frames (lower = more frame-invariant)."""
    model = model.eval()
    n = frames.shape[0]
    srcs = torch.linspace(0, n - 1, n_sources).round().long()
    l1_model, l1_copy, gen = [], [], []
    with torch.no_grad():
        enc_all = model.encode(frames)
        for s in srcs.tolist():
            src = model.encode(frames[s:s + 1])
            batch = type(src)(*(v.expand(n, *v.shape[1:]) for v in (src.f, src.alpha, src.f_m, src.f_id)),
                              [m.expand(n, -1, -1, -1) for m in src.maps])
            out = model.decode(batch, enc_all.f_m).clamp(-1, 1)
            l1_model.append((out - frames).abs().mean((1, 2, 3)))
            l1_copy.append((frames[s:s + 1] - frames).abs().mean((1, 2, 3)))
            gen.append(out)
    res = {"l1_model": float(torch.cat(l1_model).mean()), "l1_copy_source": float(torch.cat(l1_copy).mean()),
           "pairs": float(n * n_sources), "f_id_spread": _spread(enc_all.f_id), "f_spread": _spread(enc_all.f)}
    res["improvement"] = 1.0 - res["l1_model"] / res["l1_copy_source"]
    if identity:
        res.update(_identity_distance(torch.cat(gen[:1]), frames))
    return res


def _identity_distance(generated: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    to_img = lambda x: x.add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
    dists, src_dists = [], []
    g_imgs, r_imgs = to_img(generated), to_img(real)
    ref = _descriptor(r_imgs[0])
    for g, r in zip(g_imgs, r_imgs):
        dg, dr = _descriptor(g), _descriptor(r)
        if dg is not None and dr is not None:
            dists.append(float(np.linalg.norm(dg - dr)))
            if ref is not None:
                src_dists.append(float(np.linalg.norm(dg - ref)))
    return {"id_dist_to_driving": float(np.mean(dists)) if dists else float("nan"),
            "id_dist_to_source": float(np.mean(src_dists)) if src_dists else float("nan"),
            "id_faces_found": float(len(dists)) / len(g_imgs)}


def evaluate_joint_windows(model: torch.nn.Module, clips: TalkingClips, indices: list[int], window: int,
                           n_windows: int = 32, seed: int = 99, batch: int = 4) -> dict[str, float]:
    """``model``: a :class:`facespeak.train.tfg_joint.JointStageModel`.

    Joint-stage renders of ``n_windows`` seeded windows of the clips ``indices``: each window
    rendered from a random source frame of its clip with the driving frames' ``f_m`` and the
    TTS-fed audio mapper's ``f_lip``. Returns L1 (pixel units of [-1, 1]) of the model and of
    the copy-the-source baseline, and the scale of the motion code: mean ``|f_m|``, its mean
    std over a window's frames (``f_m_std_t``; ~0 = the code ignores the frames) and ``|f_id|``."""
    model = model.eval()
    ds = TalkingClipDataset(clips, indices, window, n_windows, seed=seed)
    sums = {"l1_model": 0.0, "l1_copy_source": 0.0, "f_m_norm": 0.0, "f_m_std_t": 0.0, "f_id_norm": 0.0}
    n = 0
    with torch.no_grad():
        for k in range(0, n_windows, batch):
            b = collate_clips([ds[i] for i in range(k, min(k + batch, n_windows))])
            out = model(b["source"], b["frames"], b["ids"], b["x_lengths"], b["mel"], b["mel_lengths"], b["mel_start"],
                        int(b["mel_window"]), None, torch.Generator().manual_seed(seed))
            enc = model.tfg.encode(b["frames"].flatten(0, 1))
            f_m = enc.f_m.view(*b["frames"].shape[:2], -1)
            vals = {"l1_model": float(out.parts["l1"]), "l1_copy_source": float((b["frames"] - b["source"][:, None]).abs().mean()),
                    "f_m_norm": float(f_m.norm(dim=-1).mean()), "f_m_std_t": float(f_m.std(1).mean()),
                    "f_id_norm": float(enc.f_id.norm(dim=-1).mean())}
            for key, v in vals.items():
                sums[key] += v * len(f_m)
            n += len(f_m)
    res = {k: v / n for k, v in sums.items()}
    res["improvement"] = 1.0 - res["l1_model"] / res["l1_copy_source"]
    return res


