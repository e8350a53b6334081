"""facespeak: a portrait and text in, a talking-face video with a voice that suits the face out.

Open implementation of "Faces that Speak" (TTSF, Jang et al., CVPR 2024).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
