"""Evaluation: metrics as pure functions (:mod:`.metrics`), runners that write JSON + Markdown
(:mod:`.tts_eval`), the benchmark (:mod:`.bench`). See docs/evaluation.md."""
