"""Evaluation: metrics as pure functions (:mod:`.metrics`), feature extractors (:mod:`.features`),
runners that write JSON + Markdown/HTML (:mod:`.tts_eval`; talking face: :mod:`.manifest`,
:mod:`.protocol`, :mod:`.report`), the benchmark (:mod:`.bench`). See docs/evaluation.md."""
