"""Train and evaluate the identity encoder on the real-face corpus (docs/identity.md).

Stages:

1. :func:`build_feature_table`: for every manifest item, the face (chosen by the item's box
   hint), its encoder input (:func:`identity_input`) and motion targets; plus augmented views
   (flip, rotation, scale, brightness/contrast and mesh-driven expression warps: jaw drop,
   smile, eye closure) re-analysed from the pixels. Cached as ``.npz`` beside the manifest.
2. :func:`train_identity`: P persons x K views per step; losses (weights in :class:`IdentityTrainConfig`):
   cosine-margin identity classification of ``f_id`` (train persons only), within-person
   compactness of ``f_id``, between-person cosine structure of ``f_id`` distilled from the dlib
   descriptors (keeps held-out people and gender apart), ``alpha[:, :K]`` = standardised
   motion targets, and a norm anchor for ``f_id``.
3. :func:`evaluate_identity`: on held-out persons, within/between cosine and distance ratio of
   ``f_id`` vs ``f`` vs the raw descriptor; nearest-centroid gender probe.

The model lives in :mod:`facespeak.face.identity`, the augmentations in
:mod:`facespeak.face.augment`. Unlike the other tasks of this package this one runs its own
short loop rather than :func:`facespeak.train.loop.train` (seconds on one CPU thread over a
cached feature table, person-balanced P x K batches, a classifier that is not exported).

DDP (``torchrun``, gloo on the CPU): from shards, each rank makes the views of its own part of
the clips (split as :class:`ShardStream` splits a training stream) and the ranks share the
resulting table (a few KB per view); each step's P x K batch is drawn alike on every rank, each
rank runs the encoder on its contiguous slice, the outputs are gathered (the compactness and
distillation terms couple the rows) and the gradients all-reduced, so the update is the one
process's on the whole batch. From the face corpus (``--corpus``) rank 0 builds the cached table
and the other ranks read it.

Run: ``python -m facespeak.train.identity_task --corpus corpus/faces --out <weights>``;
``torchrun --nproc_per_node N -m facespeak.train.identity_task --shards DIR ...`` for DDP.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core.config import to_dict
from ..core.errors import ConfigError, InputError
from ..data.real_faces import load_manifest
from ..data.shards.reader import decode_sample
from ..data.shards.stage_items import IdentityViewItems
from ..data.shards.streaming import ShardStream, ShardStreamConfig, clip_kept, kept_samples, rank_and_world
from ..face.analysis import analyse_faces, face_nearest_box
from ..face.augment import augment_face_image, face_crop
from ..face.identity import (DESCRIPTOR_DIM, IdentityConfig, IdentityEncoder, IdentityExtractor, identity_input,
                              motion_targets)
from ..face.image_io import load_image
from .distributed import DistInfo, average_gradients, barrier, cleanup_distributed, gather_rows, init_distributed

__all__ = ["IdentityTrainConfig", "FeatureTable", "build_feature_table", "feature_table_from_shards", "train_identity",
           "evaluate_identity", "identity_losses"]

log = logging.getLogger(__name__)


@dataclass
class IdentityTrainConfig:
    steps: int = 800
    lr: float = 2e-3
    persons_per_step: int = 8
    views_per_person: int = 8
    margin: float = 0.2  # additive cosine margin (CosFace-style) of the identity classifier
    scale: float = 16.0  # logit scale of the identity classifier
    w_cls: float = 1.0
    w_compact: float = 1.0
    w_distill: float = 3.0
    w_motion: float = 1.0
    w_norm: float = 0.05
    weight_decay: float = 1e-2
    input_noise: float = 0.3  # Gaussian noise on standardised inputs while training (x input std)
    id_norm: float = 4.0  # target L2 norm of f_id (f_m of standardised motion is ~3)
    seed: int = 0
    # shards.dir set: views come from 'facespeak data prepare' shards (feature_table_from_shards):
    # frames_per_clip frames of each clip; held-out speakers become the evaluation split
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)
    frames_per_clip: int = 4
    max_clips: int = 0  # 0 = every clip

    @classmethod
    def tiny(cls) -> IdentityTrainConfig:
        return cls(steps=5, persons_per_step=2, views_per_person=2)


@dataclass
class FeatureTable:
    """Per-view arrays: ``inputs (N, INPUT_DIM)``, ``targets (N, K)``, ``person (N,)`` str,
    ``split (N,)`` str, ``augmented (N,)`` bool, ``item (N,)`` manifest item index."""

    inputs: np.ndarray
    targets: np.ndarray
    person: np.ndarray
    split: np.ndarray
    augmented: np.ndarray
    item: np.ndarray

    def subset(self, mask: np.ndarray) -> FeatureTable:
        return FeatureTable(*(getattr(self, k)[mask] for k in
                              ("inputs", "targets", "person", "split", "augmented", "item")))


# ----------------------------------------------------------------------------- feature table


def _n_views(item: dict[str, Any], index: int, n_photo: int, frame_every: int) -> int:
    if item["kind"] == "photo":
        return n_photo
    return 1 if index % frame_every == 0 else 0


def _item_rows(root: Path, item: dict[str, Any], n_aug: int, rng: np.random.Generator) -> list[tuple]:
    """``(input, targets, augmented)`` rows of one manifest item: the clean face + ``n_aug`` views."""
    image = load_image(root / item["path"])
    face = face_nearest_box(analyse_faces(image), item["face_box"], require_overlap=True)
    if face is None:
        log.warning("no face for %s (%s); skipped", item["path"], item["person"])
        return []
    rows = [(identity_input(image, face), motion_targets(face), False)]
    crop = face_crop(image, face)
    crop_face = face_nearest_box(analyse_faces(crop), (crop.shape[1] / 2, crop.shape[0] / 2) * 2)  # nearest the centre
    for _ in range(n_aug if crop_face is not None else 0):
        view = np.ascontiguousarray(augment_face_image(crop, crop_face, rng))
        vface = face_nearest_box(analyse_faces(view), (view.shape[1] / 2, view.shape[0] / 2) * 2)
        if vface is not None:
            rows.append((identity_input(view, vface), motion_targets(vface), True))
    return rows


def build_feature_table(corpus: str | Path, n_aug_photo: int = 16, frame_aug_every: int = 8,
                        seed: int = 0, cache: bool = True) -> FeatureTable:
    """Encoder inputs of every corpus face and its augmented views (cached as ``identity_features.npz``)."""
    from tqdm import tqdm

    root = Path(corpus)
    cache_path = root / f"identity_features_a{n_aug_photo}_f{frame_aug_every}_s{seed}.npz"
    if cache and cache_path.is_file():
        data = np.load(cache_path)
        return FeatureTable(**{k: data[k] for k in data.files})
    manifest = load_manifest(root)
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in ("inputs", "targets", "person", "split", "augmented", "item")}
    for index, item in enumerate(tqdm(manifest["items"], desc="identity features")):
        for x, t, aug in _item_rows(root, item, _n_views(item, index, n_aug_photo, frame_aug_every), rng):
            for k, v in zip(cols, (x, t, item["person"], item["split"], aug, index)):
                cols[k].append(v)
    table = FeatureTable(inputs=np.stack(cols["inputs"]).astype(np.float32),
                         targets=np.stack(cols["targets"]).astype(np.float32),
                         person=np.array(cols["person"]), split=np.array(cols["split"]),
                         augmented=np.array(cols["augmented"]), item=np.array(cols["item"]))
    if cache:
        np.savez(cache_path, **table.__dict__)
    return table


def _dist_info() -> DistInfo:
    rank, world = rank_and_world()
    return DistInfo(world > 1, rank, world, torch.device("cpu"))


def _rank_samples(every: ShardStreamConfig, views: IdentityViewItems, dist: DistInfo) -> Iterator[dict[str, Any]]:
    """This rank's undecoded clips: all of them in index order in one process; under DDP the
    rank's part of the first epoch of a :class:`ShardStream` (every ``world_size``-th shard)."""
    if not dist.enabled:
        return kept_samples(every)
    return ShardStream(every, views, rank=dist.rank, world_size=dist.world_size).raw_samples(0)


def _gather_columns(cols: dict[str, list], dist: DistInfo) -> dict[str, list]:
    """Every rank's table columns, concatenated in rank order (the same table on every rank)."""
    if not dist.enabled:
        return cols
    parts: list[Any] = [None] * dist.world_size
    torch.distributed.all_gather_object(parts, cols)
    return {k: [v for part in parts for v in part[k]] for k in cols}


def feature_table_from_shards(cfg: IdentityTrainConfig, progress: bool = True) -> FeatureTable:
    """The views of the clips of ``cfg.shards`` (one pass in index order, one clip decoded at a
    time; :class:`IdentityViewItems`): persons are speakers; clips of the training splits by
    speakers not held out are split ``train``, those of ``cfg.shards.heldout_speakers`` ``heldout``
    (same splits). The table holds ``INPUT_DIM`` floats per view, not frames. Under DDP each rank
    reads its part (``max_clips`` per rank) and every rank gets the whole table."""
    from tqdm import tqdm

    dist = _dist_info()
    every = replace(cfg.shards, heldout_speakers=[])  # read held-out speakers too, to evaluate on
    views = IdentityViewItems(cfg.frames_per_clip, cfg.seed)
    cols: dict[str, list] = {k: [] for k in ("inputs", "targets", "person", "split", "augmented", "item")}
    samples = _rank_samples(every, views, dist)
    for n, raw in enumerate(tqdm(samples, desc="identity views", disable=not (progress and dist.is_main))):
        if cfg.max_clips and n >= cfg.max_clips:
            break
        sample = decode_sample(raw)
        split = "train" if clip_kept(cfg.shards, sample["meta"]) else "heldout"
        for it in views(sample):
            item = n * dist.world_size + dist.rank  # a clip number unique over the ranks
            for k, v in zip(cols, (it["input"], it["targets"], it["person"], split, False, item)):
                cols[k].append(v)
    cols = _gather_columns(cols, dist)
    if not cols["inputs"] or "train" not in cols["split"]:
        raise InputError(f"shards {cfg.shards.dir}: expected faces of training speakers, found "
                         f"{len(cols['inputs'])} view(s), {cols['split'].count('train')} of them for training")
    log.info("identity views from %s: %d (%d held out) of %d persons", cfg.shards.dir, len(cols["inputs"]),
             cols["split"].count("heldout"), len(set(cols["person"])))
    return FeatureTable(inputs=np.stack(cols["inputs"]), targets=np.stack(cols["targets"]),
                        person=np.array(cols["person"]), split=np.array(cols["split"]),
                        augmented=np.array(cols["augmented"]), item=np.array(cols["item"]))


# ----------------------------------------------------------------------------- training


def identity_losses(out: Any, labels: torch.Tensor, descriptors: torch.Tensor, targets: torch.Tensor,
                    class_weight: torch.Tensor, cfg: IdentityTrainConfig) -> dict[str, torch.Tensor]:
    """Loss terms for one batch.

    Args:
        out: :class:`IdentityOutput` of the batch (``f_id (B, D_id)``, ``alpha (B, M)``).
        labels: ``(B,)`` person index (into ``class_weight`` rows).
        descriptors: ``(B, 128)`` centred, L2-normalised dlib descriptors.
        targets: ``(B, K)`` standardised motion targets.
        class_weight: ``(n_persons, D_id)`` identity classifier.
    """
    z = F.normalize(out.f_id, dim=-1)
    logits = z @ F.normalize(class_weight, dim=-1).T
    logits = cfg.scale * (logits - cfg.margin * F.one_hot(labels, logits.shape[1]))
    same = labels[:, None] == labels[None, :]
    centroid = F.normalize((same.float() @ z) / same.float().sum(1, keepdim=True), dim=-1)
    other = ~same
    distill = ((z @ z.T - descriptors @ descriptors.T)[other] ** 2).mean() if other.any() else z.sum() * 0
    return {
        "cls": F.cross_entropy(logits, labels),
        "compact": (1 - (z * centroid).sum(-1)).mean(),
        "distill": distill,
        "motion": F.mse_loss(out.alpha[:, : targets.shape[1]], targets),
        "norm": ((out.f_id.norm(dim=-1) - cfg.id_norm) ** 2).mean(),
    }


def _sample_batch(groups: list[np.ndarray], cfg: IdentityTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    persons = rng.choice(len(groups), size=min(cfg.persons_per_step, len(groups)), replace=False)
    rows = [rng.choice(groups[p], size=cfg.views_per_person, replace=len(groups[p]) < cfg.views_per_person)
            for p in persons]
    return np.concatenate(rows), np.repeat(persons, cfg.views_per_person)


def _batch_terms(model: IdentityEncoder, noisy: torch.Tensor, labels: torch.Tensor, descriptors: torch.Tensor,
                 targets: torch.Tensor, class_weight: torch.Tensor, cfg: IdentityTrainConfig,
                 dist: DistInfo) -> dict[str, torch.Tensor]:
    """The loss terms of one whole batch (``noisy (B, INPUT_DIM)``, the same on every rank): this
    rank encodes its contiguous slice of ``B / world_size`` rows, the outputs of all ranks are
    gathered back into batch order, so every rank computes the terms of the whole batch."""
    per = len(noisy) // dist.world_size
    out = model(noisy[dist.rank * per:(dist.rank + 1) * per])
    rows = gather_rows(torch.cat([out.f_id, out.alpha], 1), dist)
    f_id, alpha = rows.split([out.f_id.shape[1], out.alpha.shape[1]], 1)
    return identity_losses(SimpleNamespace(f_id=f_id, alpha=alpha), labels, descriptors, targets, class_weight, cfg)


def train_identity(table: FeatureTable, config: IdentityConfig, cfg: IdentityTrainConfig) -> tuple[IdentityEncoder, dict]:
    """Train on the ``train`` split of ``table``; returns the model and a log of loss means.
    Under DDP (module docstring) every rank gets the same model and log."""
    dist = _dist_info()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train = table.subset(table.split == "train")
    names = sorted(set(train.person.tolist()))
    groups = [np.flatnonzero(train.person == n) for n in names]
    batch = min(cfg.persons_per_step, len(groups)) * cfg.views_per_person
    if batch % dist.world_size:
        raise ConfigError(f"identity batch: expected persons x views divisible by the {dist.world_size} ranks, got "
                          f"{min(cfg.persons_per_step, len(groups))} x {cfg.views_per_person} = {batch}")
    x = torch.from_numpy(train.inputs)
    model = IdentityEncoder(config)
    model.set_input_stats(x, torch.from_numpy(train.targets))
    targets = model.standardise_targets(torch.from_numpy(train.targets))
    desc = x[:, :DESCRIPTOR_DIM]
    desc = F.normalize(desc - desc.mean(0), dim=-1)
    class_weight = torch.nn.Parameter(torch.randn(len(names), config.dim))
    opt = torch.optim.AdamW([*model.parameters(), class_weight], lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    weights = {"cls": cfg.w_cls, "compact": cfg.w_compact, "distill": cfg.w_distill,
               "motion": cfg.w_motion, "norm": cfg.w_norm}
    history: dict[str, list[float]] = {k: [] for k in weights}
    for step in range(cfg.steps):
        rows, labels = _sample_batch(groups, cfg, rng)
        idx = torch.from_numpy(rows)
        noisy = x[idx] + cfg.input_noise * model.input_std * torch.randn(x[idx].shape, generator=gen)
        terms = _batch_terms(model, noisy, torch.from_numpy(labels), desc[idx], targets[idx], class_weight, cfg, dist)
        loss = sum(weights[k] * v for k, v in terms.items())
        opt.zero_grad()
        loss.backward()
        average_gradients([*model.parameters(), class_weight], dist)
        opt.step()
        sched.step()
        for k, v in terms.items():
            history[k].append(v.item())
        if dist.is_main and (step % 250 == 0 or step == cfg.steps - 1):
            log.info("step %d loss %.3f %s", step, loss.item(), {k: round(v.item(), 3) for k, v in terms.items()})
    summary = {k: float(np.mean(v[-100:])) for k, v in history.items()}
    return model.eval(), {"train_persons": names, "final_losses": summary}


# ----------------------------------------------------------------------------- evaluation


def _cohesion(vectors: np.ndarray, persons: np.ndarray) -> dict[str, float]:
    """Within/between-person cosine and (mean intra distance / mean inter distance) of unit vectors."""
    z = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-8)
    cos = z @ z.T
    names = sorted(set(persons.tolist()))
    masks = [persons == n for n in names]
    intra = [cos[np.ix_(m, m)][~np.eye(m.sum(), dtype=bool)].mean() for m in masks if m.sum() > 1]
    inter = [cos[np.ix_(a, b)].mean() for i, a in enumerate(masks) for b in masks[i + 1:]]
    dist = np.sqrt(np.clip(2 - 2 * cos, 0, None))
    d_in = [dist[np.ix_(m, m)][~np.eye(m.sum(), dtype=bool)].mean() for m in masks if m.sum() > 1]
    d_out = [dist[np.ix_(a, b)].mean() for i, a in enumerate(masks) for b in masks[i + 1:]]
    def mean(values: list) -> float:  # NaN, without a warning, when there is no pair (one person)
        return float(np.mean(values)) if values else float("nan")

    return {"intra_cos": mean(intra), "inter_cos": mean(inter),
            "intra_over_inter_dist": mean(d_in) / mean(d_out),
            "n_persons": len(names), "n_views": int(len(persons)), "n_persons_with_2plus": len(intra)}


def _gender_probe(train_z: np.ndarray, train_g: np.ndarray, test_z: np.ndarray, test_g: np.ndarray) -> float:
    """Nearest-centroid accuracy (cosine) of gender labels, centroids from ``train``."""
    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-8)
    labels = np.array(sorted(set(train_g.tolist())))
    centroids = unit(np.stack([unit(train_z[train_g == g]).mean(0) for g in labels]))
    pred = labels[np.argmax(unit(test_z) @ centroids.T, axis=1)]
    return float((pred == test_g).mean())


def evaluate_identity(model: IdentityEncoder, table: FeatureTable, genders: dict[str, str] | None) -> dict[str, Any]:
    """Held-out cohesion of f_id vs f vs the raw descriptor, gender probe (``genders`` given) and
    motion read-out."""
    extractor = IdentityExtractor(model)
    feats = extractor.from_inputs(table.inputs)
    reps = {"f_id": np.stack([r.f_id for r in feats]), "f": np.stack([r.f for r in feats]),
            "f_m": np.stack([r.f_m for r in feats]), "descriptor": table.inputs[:, :DESCRIPTOR_DIM]}
    held = table.split == "heldout"
    sets = {"heldout_real": held & ~table.augmented, "heldout_views": held,
            "train_real": (table.split == "train") & ~table.augmented}
    report: dict[str, Any] = {}
    for set_name, mask in sets.items():
        report[set_name] = {k: _cohesion(v[mask], table.person[mask]) for k, v in reps.items() if k != "f_m"}
    if genders is not None:
        g = np.array([genders[p] for p in table.person])
        train = table.split == "train"
        test = held & ~table.augmented
        report["gender_probe_heldout_acc"] = {k: _gender_probe(v[train], g[train], v[test], g[test])
                                             for k, v in reps.items() if k != "f_m"}
    pred = np.stack([[r.motion[n] for n in r.motion] for r in feats])
    r2 = 1 - ((pred[held] - table.targets[held]) ** 2).sum(0) / ((table.targets[held] - table.targets[held].mean(0)) ** 2).sum(0)
    report["motion_r2_heldout"] = dict(zip(feats[0].motion, np.round(r2, 3).tolist()))
    return report


def _parse_args(argv: list[str] | None):
    import argparse

    parser = argparse.ArgumentParser(description="Train the identity encoder on the real-face corpus.")
    parser.add_argument("--corpus", default="corpus/faces")
    parser.add_argument("--out", default="src/facespeak/assets/identity/identity.safetensors")
    parser.add_argument("--report", default="runs/identity/report.json")
    parser.add_argument("--steps", type=int, default=IdentityTrainConfig.steps)
    parser.add_argument("--tiny", action="store_true", help="tiny model and 5 steps (smoke test)")
    parser.add_argument("--shards", default="", help="views from these prepared shards instead of --corpus")
    parser.add_argument("--heldout-speaker", action="append", default=[], help="with --shards: evaluation speaker")
    parser.add_argument("--split", action="append", default=[],
                        help="with --shards: a clip split to read (repeatable; default the training splits)")
    parser.add_argument("--frames-per-clip", type=int, default=IdentityTrainConfig.frames_per_clip)
    parser.add_argument("--max-clips", type=int, default=0, help="with --shards: the first N clips only (per rank)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command line (module docstring); under ``torchrun`` the ranks share the work and rank 0
    writes the weights and the report."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    dist = init_distributed(cpu=True)
    try:
        _run(args, dist)
    finally:
        cleanup_distributed(dist)
    return 0


def _corpus_table(corpus: str, dist: DistInfo) -> FeatureTable:
    """The face corpus's table: rank 0 builds and caches it, the other ranks then read the cache
    (one writer of the cache file)."""
    table = build_feature_table(corpus) if dist.is_main else None
    barrier(dist)
    return table if table is not None else build_feature_table(corpus)


def _run(args, dist: DistInfo) -> None:
    t0 = time.time()
    config = IdentityConfig.tiny() if args.tiny else IdentityConfig()
    cfg = IdentityTrainConfig.tiny() if args.tiny else IdentityTrainConfig(steps=args.steps)
    cfg.shards = ShardStreamConfig(dir=args.shards, heldout_speakers=args.heldout_speaker)
    if args.split:
        cfg.shards.splits = args.split
    cfg.frames_per_clip, cfg.max_clips = args.frames_per_clip, args.max_clips
    table = feature_table_from_shards(cfg) if cfg.shards.enabled else _corpus_table(args.corpus, dist)
    t1 = time.time()
    model, info = train_identity(table, config, cfg)
    t2 = time.time()
    if not dist.is_main:
        return
    genders = None if cfg.shards.enabled else {p: v["gender"] for p, v in load_manifest(args.corpus)["persons"].items()}
    has_heldout = bool((table.split == "heldout").any())
    report = {"eval": evaluate_identity(model, table, genders) if has_heldout else {}, "train": info,
              "train_config": to_dict(cfg), "ranks": dist.world_size,
              "feature_seconds": round(t1 - t0, 1), "train_seconds": round(t2 - t1, 1),
              "n_train_views": int((table.split == "train").sum()), "n_heldout_views": int((table.split == "heldout").sum())}
    IdentityExtractor(model).save(args.out, extra={"train_steps": cfg.steps, "train_persons": info["train_persons"]})
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=1))
    log.info("%s", json.dumps(report["eval"], indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
