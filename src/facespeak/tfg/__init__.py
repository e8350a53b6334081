"""Talking-face generation: motion spaces and renderers.

``mesh`` (default, no trained weights): :mod:`.mesh_space` (orthonormal face-mesh deformation
basis + head pose), :mod:`.mesh_renderer` (dense piecewise-affine warp + :mod:`.mouth_interior`).
See docs/renderer.md.
"""
