#!/usr/bin/env bash
# Install dalle-widgets with JupyterLab into .venv and open the demo notebooks.
# With no OPENAI_API_KEY the notebooks run on the built-in offline engine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
log=$(mktemp)
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[lab]" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# JupyterLab defaults for the demo (no news prompt, no update check), in this .venv only.
settings=.venv/share/jupyter/lab/settings
[ -f "$settings/overrides.json" ] || { mkdir -p "$settings" && cp scripts/jupyterlab-overrides.json "$settings/overrides.json"; }
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec .venv/bin/jupyter lab --ip="${JUPYTER_IP:-127.0.0.1}" --notebook-dir=notebooks "${extra[@]}" "$@" \
  notebooks/01-quickstart.ipynb
