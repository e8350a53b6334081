"""One training loop (DDP-ready) and one task per trainable component."""

from .loop import Task, TrainConfig, TrainingStopped, select_device, train

__all__ = ["Task", "TrainConfig", "TrainingStopped", "train", "select_device"]
