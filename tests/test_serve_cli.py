"""``commit-train serve`` as a person starts it: one error line for a missing variable or a bad
config, and a running service that says how it listens and warns when it lets anyone deploy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.emulators.github import GitHubEmulator
from tests.emulators.slack import SlackEmulator

COMMIT_TRAIN = str(Path(sys.executable).parent / "commit-train")
CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GITHUB_", "GH_"))}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMIT_TRAIN, "serve", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_missing_bot_token_is_one_line() -> None:
    done = _run(env=CLEAN)
    assert done.returncode == 2
    assert done.stderr == (
        "error: SLACK_BOT_TOKEN is not set; export the bot token (xoxb-...) of the Slack app\n"
    )


def test_http_mode_needs_the_signing_secret() -> None:
    done = _run("--slack-mode", "http", env={**CLEAN, "SLACK_BOT_TOKEN": "xoxb-1"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: HTTP mode needs SLACK_SIGNING_SECRET")


def test_a_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "serve.yml"
    path.write_text("ownr: acme\n")
    done = _run("--config", str(path), env={**CLEAN, "SLACK_BOT_TOKEN": "xoxb-1"})
    assert done.returncode == 1
    assert done.stderr == f"error: {path}: ownr: unknown key; did you mean 'owner'?\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_service_starts_warns_and_answers_health() -> None:
    with GitHubEmulator() as github, SlackEmulator() as slack:
        port = _free_port()
        env = {
            **CLEAN,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.base_url,
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.base_url,
        }
        process = subprocess.Popen(
            [COMMIT_TRAIN, "serve", "--slack-mode", "http", "--port", str(port)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = []
            assert process.stderr is not None
            while len(lines) < 3:
                lines.append(process.stderr.readline())
            assert lines[0].startswith("warning: no --config: serving every repository")
            assert lines[1].startswith("warning: no GITHUB_WEBHOOK_SECRET")
            assert lines[2] == (
                f"commit-train serve: Slack over http://127.0.0.1:{port}/slack/events; "
                f"GitHub webhook at http://127.0.0.1:{port}/github/webhook\n"
            )
            deadline = time.monotonic() + 10
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                        assert answer.read() == b"ok\n"
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for line in lines:
                assert slack.bot_token not in line and github.token not in line
        finally:
            process.terminate()
            process.wait(timeout=10)
