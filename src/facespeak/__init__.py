"""facespeak: a portrait and text in, a talking-face video with a voice that suits the face out.

Open implementation of "Faces that Speak" (TTSF, Jang et al., CVPR 2024).
"""

import os as _os

# onnxruntime (>= 1.2x on Linux, used by the gender/age estimator, the neural voices and the
# speech-quality metrics) starts Microsoft's 1DS telemetry client when it is imported: it
# writes mat-debug-<pid>.log and .ses into $TMPDIR (never removed), a device id under
# ~/.cache/Microsoft, and tries HTTPS uploads. Its own switch turns that off; it must be set
# before onnxruntime is first imported, and every facespeak import passes through here. A value
# the user set explicitly is kept (decisions.md #23).
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

__all__ = ["__version__"]
