"""Video media I/O: :mod:`.writer` (H.264 + AAC MP4, streaming, atomic) and :mod:`.reader`."""
