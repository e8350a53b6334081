"""Audio-visual datasets (LRS3, LRS2, VoxCeleb2, a plain folder) prepared into WebDataset
shards: :mod:`.layouts` lists the clips, :mod:`.prepare` turns one clip into a sample,
:mod:`.writer` writes the shards and the index, :mod:`.reader` reads them back."""

from .layouts import LAYOUTS, ClipRecord, list_clips, parse_lrs_transcript
from .prepare import QUALITY_BITS, ShardConfig
from .reader import decode_sample, iter_shards
from .writer import build_index, parse_part, prepare_shards, read_failures

__all__ = ["LAYOUTS", "ClipRecord", "list_clips", "parse_lrs_transcript", "QUALITY_BITS", "ShardConfig",
           "decode_sample", "iter_shards", "build_index", "parse_part", "prepare_shards", "read_failures"]
