"""Start-up stays cheap: ``--help`` loads neither PyGithub, kubernetes nor Slack's clients
(the deploy service's, loaded only by ``serve``), ``status`` on the local backend does not
load kubernetes. Checked in a fresh interpreter via ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.gitrepos import Repo

PROBE = """
import json, sys
from commit_train.faces.cli.main import main
sys.argv = ["commit-train", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exit:
    code = exit.code
watched = {"github", "kubernetes", "pydantic", "slack_bolt", "slack_sdk"}
heavy = sorted({name.split(".")[0] for name in sys.modules} & watched)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(*args: str, cwd: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_help_imports_neither_client() -> None:
    assert probe("--help") == {"code": 0, "heavy": []}
    assert probe("deploy", "--help") == {"code": 0, "heavy": []}
    assert probe("serve", "--help") == {"code": 0, "heavy": []}


def test_status_on_the_local_backend_does_not_import_kubernetes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("first")
    found = probe("-C", str(repo.root), "status")
    assert found["code"] == 0
    assert "kubernetes" not in found["heavy"]
    assert "github" not in found["heavy"]


def test_importing_the_package_is_cheap() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, commit_train, commit_train.service.train,"
            " commit_train.backends.local.journal;"
            "heavy = {'github', 'kubernetes', 'click'};"
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "[]"
