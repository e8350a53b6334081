"""One training loop (DDP-ready) and one task per trainable component."""

from .loop import Task, TrainConfig, select_device, train

__all__ = ["Task", "TrainConfig", "train", "select_device"]
