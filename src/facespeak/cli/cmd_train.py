"""`facespeak train COMPONENT --config FILE`: one resumable loop for every component."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a component (resumable; run under torchrun for DDP)")
    p.add_argument("component", choices=["tts"], help="what to train")
    p.add_argument("--config", required=True, help="YAML config (see configs/); a bundled preset name also works")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. train.steps=500")
    p.add_argument("--run-dir", default=None, help="checkpoints + loss.csv (default runs/<component>-<config name>)")
    p.add_argument("--out", default=None, help="export the final weights (safetensors with config) here")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.set_defaults(func=run)


def _resolve_config(name: str) -> Path:
    from ..core.errors import ConfigError

    p = Path(name)
    if p.is_file():
        return p
    bundled = Path(__file__).resolve().parent.parent / "configs" / f"{name}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"config {name!r} not found (expected a YAML path or a bundled preset like 'tts_default')")


def run(args: argparse.Namespace) -> int:
    from ..core.config import load_yaml, merge_overrides
    from ..train import train

    cfg_path = _resolve_config(args.config)
    raw = merge_overrides(load_yaml(cfg_path), args.set)
    if args.component == "tts":
        from ..train.tts_task import TTSTask, TTSTrainConfig

        cfg = TTSTrainConfig.from_dict(raw)
        task = TTSTask(cfg)
    run_dir = Path(args.run_dir or f"runs/{args.component}-{cfg_path.stem}")
    stats = train(task, cfg.train, run_dir, export_path=args.out, device=args.device)
    print("final: " + " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    if args.out:
        print(f"exported {args.out}")
    return 0
