#!/usr/bin/env bash
# Install everything (Chromium from Debian, torch's CPU build, the package and its
# test/docs/benchmark/models/ray extras into .venv) and run every test: lint, types, unit and
# server tests, notebooks under nbval, browser tests in headless Chromium, the tiny-model
# tests, the Ray Serve tests on a local cluster, the docs build (warnings are errors).
# Safe to run again: each step reuses what the previous run installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Chromium (Debian package) for the browser tests"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core >/dev/null
  else
    echo "chromium is not installed and this is not root: run 'sudo apt-get install chromium'" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
mkdir -p test-artifacts
# torch first, pinned to the CPU build these machines hold (/opt/wheels): a bare `torch`
# requirement (the models extra's diffusers asks for one) would otherwise resolve to the
# multi-GB CUDA build on PyPI. pip leaves an installed torch==2.13.0 alone on a re-run.
echo "== installing torch==2.13.0 (CPU build) for the models extra"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" \
    > test-artifacts/pip-install.log 2>&1; then
  cat test-artifacts/pip-install.log >&2
  exit 1
fi
echo "== installing dalle-widgets with its test, docs, benchmark, models and ray extras"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,docs,bench,models,ray]" \
    "torch==2.13.0" >> test-artifacts/pip-install.log 2>&1; then
  cat test-artifacts/pip-install.log >&2
  exit 1
fi

export PATH="$PWD/.venv/bin:$PATH"
# Tests must never reach a real provider or read the developer's key.
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID DALLE_WIDGETS_MODEL DALLE_WIDGETS_OFFLINE \
  AZURE_OPENAI_ENDPOINT AZURE_OPENAI_API_KEY OPENAI_API_VERSION
unset DALLE_WIDGETS_ENGINE_BACKEND DALLE_WIDGETS_RECIPE DALLE_WIDGETS_LOW_MEMORY
# ...nor a model hub: the model tests build tiny pipelines in code.
export HF_HUB_OFFLINE=1
export DALLE_WIDGETS_HOME="${DALLE_WIDGETS_HOME:-$(mktemp -d)/dalle-home}"

echo "== ruff"
ruff check .
ruff format --check .

echo "== mypy (dalle_widgets/, configured in pyproject.toml)"
mypy

echo "== pytest (unit, server, notebooks, browser)"
# --durations prints the 20 slowest tests: the whole suite should stay well under 30 minutes on 2 cores.
python -m pytest tests notebooks dalle_widgets --doctest-modules --nbval-lax --nbval-current-env --durations=20 \
  -p no:cacheprovider "$@"

echo "== docs (sphinx, warnings are errors)"
if [ -f docs/conf.py ]; then
  python -m sphinx -W --keep-going -q -b html docs docs/_build/html
fi
echo "== all tests passed"
