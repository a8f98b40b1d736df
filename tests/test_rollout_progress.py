"""``commit-train apply`` on a terminal: the rollout's progress is one line rewritten in place
(carriage return, erase to the end of the line) as kubectl's message changes; piped, the same
messages are plain lines (``test_deploy_e2e.py``).

The installed ``commit-train`` runs in a child process whose stdout is a pseudo-terminal,
against the Kubernetes emulator, whose controller moves the rollout on step by step.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from commit_train.faces.terminal import CLEAR_LINE
from tests.emulators.kube import KubeEmulator
from tests.kube_fixtures import kube  # noqa: F401 (the fixture)
from tests.test_deploy_e2e import NS, make_shop, scripted, until, watching, web_with

PROGRAM = Path(sys.executable).with_name("commit-train")


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            return
        if not chunk:
            return
        into.append(chunk)


@pytest.mark.skipif(not PROGRAM.exists(), reason="needs the installed commit-train script")
def test_progress_is_one_line_rewritten_in_place_on_a_terminal(
    tmp_path: Path,
    kube: KubeEmulator,  # noqa: F811
) -> None:
    shop = make_shop(tmp_path, kube)
    sha = shop.commit("Ship it")

    def roll_out() -> None:
        until(web_with(kube, sha), "the Deployment applied")
        until(watching(kube), "the waiter's watch")
        until(lambda: b"spec update" in b"".join(screen), "the first progress line shown")
        kube.controller.progress("Deployment", NS, "web", updated=1, ready=0)
        until(lambda: b"updated replicas" in b"".join(screen), "the second progress line shown")
        kube.controller.complete("Deployment", NS, "web")

    screen: list[bytes] = []
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in shop.env}
    env.update({k: v for k, v in shop.env.items() if v is not None})
    env["COLUMNS"] = "200"
    reader = threading.Thread(target=_read_all, args=(main, screen), daemon=True)
    with scripted(roll_out):
        proc = subprocess.Popen(
            [str(PROGRAM), "-C", str(shop.root), "apply", "staging"],
            stdin=subprocess.DEVNULL,
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(secondary)
        reader.start()
        _, err = proc.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(main)
    assert proc.returncode == 0, err.decode()
    shown = b"".join(screen).decode().replace("\r\n", "\n")
    progress = [part.split("\n")[0] for part in shown.split(CLEAR_LINE)[1:]]  # each rewrite
    assert progress[0] == (
        "Deployment shop/web: Waiting for deployment spec update to be observed..."
    )
    assert progress[1] == (
        'Deployment shop/web: Waiting for deployment "web" rollout to finish: '
        "0 of 1 updated replicas are available..."
    )
    assert progress[-1] == 'Deployment shop/web: deployment "web" successfully rolled out'
    # the rewrites share one line: no newline until the progress ends
    between = shown.split(CLEAR_LINE, 1)[1].rsplit(CLEAR_LINE, 1)[0]
    assert "\n" not in between
    assert shown.rstrip().splitlines()[-1].startswith("3 objects: 3 created")
