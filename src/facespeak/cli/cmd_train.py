"""`facespeak train COMPONENT --config FILE`: one resumable loop for every component.

The training tasks (cv2, scipy, numba, the models) are imported inside ``run``, marked ``# lazy:``
(docs/architecture.md, "Conventions"), so ``facespeak --help`` does not load them.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..core.config import load_yaml, merge_overrides
from ..core.errors import ConfigError
from ..core.output_files import check_output_dir, check_output_file
from ..train import train
from ..train.loop import export_last
from .commands import COMMAND_HELP

__all__ = ["register"]


# component -> (module in facespeak.train, task class, its config dataclass)
TASKS = {
    "tts": ("tts_task", "TTSTask", "TTSTrainConfig"),
    "vocoder": ("vocoder_task", "VocoderTask", "VocoderTrainConfig"),
    "tfg": ("tfg_task", "TFGTask", "TFGTrainConfig"),
    "syncnet": ("syncnet_task", "SyncNetTask", "SyncNetTrainConfig"),
    "mapper": ("motion_task", "MapperTask", "MapperTrainConfig"),
    "motion": ("motion_task", "MotionTask", "MotionTrainConfig"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=COMMAND_HELP["train"])
    p.add_argument("component", choices=list(TASKS), help="what to train")
    p.add_argument("--config", required=True, help="YAML config (see configs/); a bundled preset name also works")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. train.steps=500")
    p.add_argument("--run-dir", default=None, help="checkpoints + loss.csv (default runs/<component>-<config name>)")
    p.add_argument("--out", default=None, help="export the final weights (safetensors with config) here")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--stop-at", type=int, default=None, help="end this invocation at this step (checkpointed; resume later)")
    p.add_argument("--export-only", action="store_true", help="export run-dir/last.pt to --out without training")
    p.add_argument("--half", action="store_true", help="with --export-only: store float16 weights (bundling)")
    p.add_argument("--evaluate", action="store_true", help="tfg only: held-out self-reenactment metrics of run-dir/last.pt")
    p.set_defaults(func=run)


def _resolve_config(name: str) -> Path:
    p = Path(name)
    if p.is_file():
        return p
    bundled = Path(__file__).resolve().parent.parent / "configs" / f"{name}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"config {name!r} not found (expected a YAML path or a bundled preset like 'tts_default')")


def run(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger("facespeak").setLevel(logging.INFO)
    if args.out:
        check_output_file(args.out, "--out")
    if args.run_dir:
        check_output_dir(args.run_dir, "--run-dir")
    cfg_path = _resolve_config(args.config)
    raw = merge_overrides(load_yaml(cfg_path), args.set)
    module, task_name, config_name = TASKS[args.component]
    # lazy: only the chosen task's module (the tfg tasks load cv2, scipy and numba)
    mod = importlib.import_module(f"facespeak.train.{module}")
    cfg = getattr(mod, config_name).from_dict(raw)
    task = getattr(mod, task_name)(cfg)
    run_dir = Path(args.run_dir or f"runs/{args.component}-{cfg_path.stem}")
    if getattr(args, "evaluate", False):
        if args.component != "tfg":
            raise ConfigError("--evaluate is for the tfg component")
        # lazy: loads cv2, scipy and numba
        from ..train.tfg_task import evaluate_run

        for k, v in evaluate_run(cfg, run_dir).items():
            print(f"{k}: {v:.4f}")
        return 0
    if args.export_only:
        if not args.out:
            raise ConfigError("--export-only needs --out")
        step = export_last(task, cfg.train, run_dir, args.out, half=args.half)
        print(f"exported {args.out} from {run_dir / 'last.pt'} (step {step})")
        _export_joint_parts(args, cfg, task, run_dir)
        return 0
    stats = train(task, cfg.train, run_dir, export_path=args.out, device=args.device, stop_at=args.stop_at)
    print("final: " + " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    if args.out:
        print(f"exported {args.out}")
        if args.stop_at is None or args.stop_at >= cfg.train.steps:  # the loop exports at the last step only
            _export_joint_parts(args, cfg, task, run_dir)
    return 0


def _export_joint_parts(args: argparse.Namespace, cfg, task, run_dir: Path) -> None:
    """tfg stage 'joint': the TTS and motion sampler go beside the TFG export."""
    if args.component != "tfg" or getattr(cfg, "stage", "") != "joint":
        return
    # lazy: loads cv2, scipy and numba
    from ..train.tfg_task import export_joint_parts

    for path in export_joint_parts(task, run_dir, args.out):
        print(f"exported {path}")
