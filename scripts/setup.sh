#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install fedprov with its development extras.
# A second run reinstalls only when pyproject.toml changed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python_bin="$candidate"
      break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "error: fedprov needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $python_bin"
  "$python_bin" -m venv "$VENV"
fi

stamp="$VENV/.fedprov-installed"
want="$(sha256sum "$FEDPROV_REPO/pyproject.toml" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing fedprov and its dependencies into $VENV (torch is large: a few minutes)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --progress-bar off -e "$FEDPROV_REPO[dev]"
echo "$want" > "$stamp"
