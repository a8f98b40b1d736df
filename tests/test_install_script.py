"""``actions/install.sh`` installs uv only at the version and hashes it pins.

On a runner without uv, the script has pip install uv from ``actions/uv-requirements.txt``
with ``--require-hashes``. Here pip reads a local folder instead of PyPI (no network): a wheel
whose sha256 is not listed is refused before anything is installed, and the same wheel is
accepted once its hash is listed, so the refusal is the hash check and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "actions" / "uv-requirements.txt"
SYSTEM_PATH = "/usr/bin:/bin"


def pinned() -> tuple[str, list[str]]:
    text = REQUIREMENTS.read_text(encoding="utf-8")
    (version,) = re.findall(r"^uv==(\S+)", text, re.M)
    return version, re.findall(r"--hash=sha256:([0-9a-f]{64})\b", text)


def test_uv_is_pinned_to_one_version_with_a_hash_per_runner_wheel() -> None:
    version, hashes = pinned()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert len(hashes) == len(set(hashes)) >= 4, "Linux and macOS, x86_64 and arm64"
    script = (ROOT / "actions" / "install.sh").read_text(encoding="utf-8")
    assert "--require-hashes" in script and "actions/uv-requirements.txt" in script
    assert re.search(r"pip install [^\n]*\buv\s*$", script, re.M) is None, "no unpinned uv"


def fake_uv_wheel(folder: Path, version: str) -> Path:
    """A well-formed wheel named like uv's (not uv): what a substituted file would be."""
    folder.mkdir()
    wheel = folder / f"uv-{version}-py3-none-any.whl"
    info = f"uv-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: uv\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def run_install(
    tmp_path: Path, requirements: str, wheels: Path
) -> subprocess.CompletedProcess[str]:
    checkout = tmp_path / "checkout"
    (checkout / "actions").mkdir(parents=True)
    shutil.copy(ROOT / "actions" / "install.sh", checkout / "actions" / "install.sh")
    (checkout / "actions" / "uv-requirements.txt").write_text(requirements, encoding="utf-8")
    env = {
        "PATH": SYSTEM_PATH,  # a runner without uv
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "COMMIT_TRAIN_PYTHON": sys.executable,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_NO_CACHE_DIR": "1",
    }
    (tmp_path / "runner-temp").mkdir()
    return subprocess.run(
        ["bash", str(checkout / "actions" / "install.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def installed_uv(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "runner-temp").glob("commit-train-*/lib/python*/site-packages/uv-*"))


@pytest.fixture
def no_uv_on_the_system_path() -> None:
    if shutil.which("uv", path=SYSTEM_PATH):
        pytest.skip("uv is installed system-wide; the pip path of install.sh is not taken")


@pytest.mark.usefixtures("no_uv_on_the_system_path")
def test_a_uv_wheel_whose_hash_is_not_pinned_is_refused(tmp_path: Path) -> None:
    version, _ = pinned()
    fake_uv_wheel(tmp_path / "wheels", version)

    done = run_install(tmp_path, REQUIREMENTS.read_text(encoding="utf-8"), tmp_path / "wheels")

    assert done.returncode != 0
    assert "DO NOT MATCH THE HASHES" in done.stderr
    assert installed_uv(tmp_path) == [], "nothing installed"


@pytest.mark.usefixtures("no_uv_on_the_system_path")
def test_the_same_wheel_is_taken_once_its_hash_is_listed(tmp_path: Path) -> None:
    version, _ = pinned()
    wheel = fake_uv_wheel(tmp_path / "wheels", version)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    listed = REQUIREMENTS.read_text(encoding="utf-8").rstrip("\n")
    listed += f" \\\n    --hash=sha256:{digest}\n"

    done = run_install(tmp_path, listed, tmp_path / "wheels")

    assert "DO NOT MATCH THE HASHES" not in done.stderr
    assert [p.name for p in installed_uv(tmp_path)] == [f"uv-{version}.dist-info"]
    # (the fake has no uv binary, so the script stops at its next command)
    assert done.returncode != 0
