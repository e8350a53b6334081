"""``latent`` motion space: the paper's LIA-style talking-face generator (DESIGN.md §1).

See docs/latent_tfg.md. Import paths:

- :class:`LatentTFGConfig`, :class:`TFGLossWeights` (:mod:`.config`)
- :class:`LatentTFG` and its parts (:mod:`.model`), :class:`Discriminator`
- loss terms (:mod:`.losses`), the reconstruction objective (:mod:`.training`)
- :class:`LatentRenderer` (:mod:`.renderer`): portrait + per-frame motion -> frames
- :class:`LatentMotionSpace` (:mod:`.motion_space`): what ``motion/``'s mapper and sampler drive
  here (``f_lip``, ``f_m``, condition ``[f_id, f_lip]``); the joint stage that trains them is
  :mod:`facespeak.train.tfg_joint`, inference :mod:`facespeak.latent_pipeline`
"""

from .config import LatentTFGConfig, TFGLossWeights
from .discriminator import Discriminator
from .model import Encoded, LatentTFG, MotionBasis, MotionExtractor, VisualEncoder, WarpingGenerator

__all__ = ["LatentTFGConfig", "TFGLossWeights", "LatentTFG", "Encoded", "VisualEncoder", "MotionExtractor",
           "MotionBasis", "WarpingGenerator", "Discriminator"]
