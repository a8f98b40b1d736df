#!/usr/bin/env bash
# Install commit-train from this action's own checkout into a job-local virtualenv, once per
# job, and print the path of its commit-train executable (progress goes to stderr).
#
# uv when the runner has it (astral-sh/setup-uv, or a self-hosted image), else pip installs
# uv into the new venv first: with warm caches uv installs commit-train in about a second,
# pip takes well over ten (bench/cold_start.py; docs/setup.md, Cold start). That uv is the
# exact version in actions/uv-requirements.txt, checked against its wheels' sha256 hashes
# (--require-hashes, wheels only), so what runs beside the deploy token is what was reviewed.
#
# Every dependency is installed at the exact version the test suite ran with
# (actions/constraints.txt, written by scripts/gen_constraints.py), not at whatever the open
# ranges of pyproject.toml resolve to on the day of the deploy.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
key="$(printf '%s' "$root" | sha256sum | cut -c1-16)"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/commit-train-${key}"
exe="$venv/bin/commit-train"

if [ -x "$exe" ] && [ -f "$venv/.installed-from" ] && [ "$(cat "$venv/.installed-from")" = "$root" ]; then
  printf '%s\n' "$exe"
  exit 0
fi

python="${COMMIT_TRAIN_PYTHON:-python3}"
constraints="$root/actions/constraints.txt"
{
  echo "commit-train: installing from $root"
  if command -v uv >/dev/null 2>&1; then
    uv venv --quiet --python "$python" "$venv"
    uv pip install --quiet --python "$venv/bin/python" -c "$constraints" "$root"
  else
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --require-hashes --only-binary=:all: --no-deps -r "$root/actions/uv-requirements.txt"
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -c "$constraints" "$root"
  fi
} >&2
printf '%s' "$root" > "$venv/.installed-from"
printf '%s\n' "$exe"
