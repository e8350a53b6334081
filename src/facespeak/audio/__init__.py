"""Audio: file I/O (``io``), HiFi-GAN log-mel features (``mel``), ASR evaluation (``asr``) and
offline real speech clips (``reference_speech``).

Submodules are imported explicitly (``from facespeak.audio.io import load_audio``) so that
importing one does not pull torch or faster-whisper into the others.
"""
