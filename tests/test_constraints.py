"""The actions install the dependency versions the test suite ran with.

``actions/constraints.txt`` pins commit-train's runtime dependencies (and theirs) to the
versions installed here, and ``actions/install.sh`` installs with it; without the pins an
action would resolve ``pyproject.toml``'s open ranges on the day of a deploy.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "actions" / "constraints.txt"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_constraints", ROOT / "scripts" / "gen_constraints.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_constraints"] = module
    spec.loader.exec_module(module)
    return module


def test_the_constraints_pin_what_the_tests_run_with() -> None:
    gen = _generator()
    pins = gen.read(CONSTRAINTS.read_text(encoding="utf-8"))
    assert pins == gen.runtime_closure(gen.runtime_roots()), (
        "run: python scripts/gen_constraints.py"
    )
    for name in ("pygithub", "kubernetes", "pydantic", "cryptography", "slack-sdk"):
        assert name in pins, name
    assert not {"pytest", "ruff", "mypy", "graphql-core"} & set(pins), "runtime only"


def test_install_sh_installs_the_pinned_versions(tmp_path: Path) -> None:
    """A real install with uv, offline from its cache: every pinned package lands at its
    pinned version (skipped when uv or its cache is missing here)."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not installed next to this Python")
    env = {
        **os.environ,
        "PATH": f"{uv.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RUNNER_TEMP": str(tmp_path),
        "COMMIT_TRAIN_PYTHON": sys.executable,
        "UV_OFFLINE": "1",  # never the network: the cache or nothing
    }
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__"),
    )
    done = subprocess.run(
        ["bash", str(source / "actions" / "install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "offline" in done.stderr.lower():
        pytest.skip(f"uv's cache lacks a pinned wheel: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    exe = Path(done.stdout.strip())
    frozen = subprocess.run(
        [str(uv), "pip", "freeze", "--python", str(exe.with_name("python"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    gen = _generator()
    installed = gen.read(frozen)
    pins = gen.read(CONSTRAINTS.read_text(encoding="utf-8"))
    assert {name: installed.get(name) for name in pins} == pins
