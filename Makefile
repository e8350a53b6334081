# `make demo` and `make test` set everything up by themselves (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TEXT ?= Hello! I am a talking portrait, and this voice was chosen to suit my face.

.PHONY: setup demo tts-demo test test-slow clean

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/facespeak say --image examples/portrait.jpg --text "$(TEXT)" --out out/demo.mp4

tts-demo: setup
	$(VENV)/bin/facespeak tts --image examples/portrait.jpg --text "$(TEXT)" --out out/demo.wav

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

clean:
	rm -rf out build *.egg-info
