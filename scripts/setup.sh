#!/usr/bin/env bash
# Set up everything facespeak needs on a fresh Debian machine with Python 3.11:
# Debian packages (apt-get update first), a virtualenv in .venv/, exact pip pins.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
STAMP=.venv/.facespeak-setup-$(cat requirements/*.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)

if [ -f "$STAMP" ]; then exit 0; fi

# Debian packages: espeak-ng data comes from a wheel, so only the media/voice tools are here.
DEBS="sox espeak-ng mbrola flite festival festvox-us-slt-hts festvox-kallpc16k pocketsphinx-testdata mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 libttspico-utils festvox-rablpc16k festvox-kdlpc16k wordnet-base chromium chromium-driver"
missing=""
for d in $DEBS; do dpkg -s "$d" >/dev/null 2>&1 || missing="$missing $d"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # mbrola voices, pico and some festvox voices live in Debian's contrib/non-free components.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    $SUDO sed -i -E 's/^(deb .*debian(-security)?\/? [a-z-]+) main$/\1 main contrib non-free/' /etc/apt/sources.list
  fi
  echo "[setup] apt-get install$missing" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip==25.3"
echo "[setup] pip install (pinned, CPU torch)" >&2
.venv/bin/pip install -q -r requirements/lock.txt
.venv/bin/pip install -q --no-deps -r requirements/nodeps.txt
.venv/bin/pip install -q --no-deps --no-build-isolation -e .
rm -f .venv/.facespeak-setup-*
touch "$STAMP"
echo "[setup] done" >&2
