"""Cold start of an action step: install commit-train into a fresh venv, pip against uv.

Every composite action installs commit-train from its own checkout before it runs, so this
cost is paid by every deploy job. Both installers get a warm cache first (one untimed run,
as on a runner whose tool cache already holds the wheels, or a second step in the same
job), then each is timed ``--runs`` times into a brand-new virtualenv. Both read the same
local folder of wheels (``--no-index --find-links``), so neither measures the network.

Usage: ``python bench/cold_start.py [--runs 3]``. Prints one line per installer with the
median seconds; the numbers are in ``docs/setup.md`` (Cold start).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        raise SystemExit("uv is not installed; pip install uv")
    return found


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")


def pip_install(venv: Path, wheels: Path, cache: Path) -> None:
    _run([sys.executable, "-m", "venv", str(venv)])
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(wheels),
            "--cache-dir",
            str(cache),
            str(ROOT),
        ]
    )


def uv_install(venv: Path, wheels: Path, cache: Path) -> None:
    uv = _uv()
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheels),
            "--cache-dir",
            str(cache),
            "--python",
            str(venv / "bin" / "python"),
            str(ROOT),
        ]
    )


def pip_uv_install(venv: Path, wheels: Path, cache: Path) -> None:
    """What the actions do on a runner without uv: pip installs uv, uv installs the rest."""
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    local = ["--no-index", "--find-links", str(wheels)]
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, *local, "--cache-dir", str(cache / "pip"), "uv"])
    uv = [str(venv / "bin" / "uv"), "pip", "install", "--quiet", "--python", python]
    _run([*uv, *local, "--cache-dir", str(cache / "uv"), str(ROOT)])


def warm_wheels(dest: Path) -> None:
    """Every wheel commit-train needs (and the build backend), downloaded once."""
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            str(dest),
            "setuptools>=68",
            "wheel",
            "uv",
            str(ROOT),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ct-cold-") as tmp:
        base = Path(tmp)
        wheels = base / "wheels"
        warm_wheels(wheels)
        results: dict[str, list[float]] = {}
        installers = (("pip", pip_install), ("uv", uv_install), ("pip+uv", pip_uv_install))
        for name, install in installers:
            cache = base / f"cache-{name}"
            install(base / f"warm-{name}", wheels, cache)  # fills the cache, untimed
            times = []
            for run in range(args.runs):
                venv = base / f"{name}-{run}"
                start = time.perf_counter()
                install(venv, wheels, cache)
                times.append(time.perf_counter() - start)
                shutil.rmtree(venv)
            results[name] = times
        for name, times in results.items():
            shown = ", ".join(f"{t:.2f}" for t in times)
            print(f"{name:>6}: median {statistics.median(times):.2f} s  (runs: {shown})")


if __name__ == "__main__":
    main()
