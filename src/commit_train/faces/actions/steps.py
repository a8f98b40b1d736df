"""``commit-train action NAME``: the commands behind the composite actions in ``actions/``.

Each command reads its inputs through :mod:`commit_train.faces.actions.io`, calls the library and
writes its outputs; its inputs and outputs are declared once, in ``SPECS``, and a contract
test checks that every ``action.yml`` declares and maps exactly those.

The frame, the contract (``SPECS``) and the shared reads live in ``frame``; the steps in
``deploy_steps`` and ``record_steps``, and ``frame`` says how every failure ends.

Every command runs as a plain subprocess given ``GITHUB_*`` variables and ``INPUT_*``
variables, so a test plays a workflow step by step against the emulators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import click

from commit_train.faces.actions.deploy_steps import apply_manifests, build_gate, render_manifests
from commit_train.faces.actions.frame import SPECS, run_step
from commit_train.faces.actions.io import (
    Runtime,
)
from commit_train.faces.actions.record_steps import (
    create_deployment,
    set_deployment_status,
    stale_commit_notifier,
)

if TYPE_CHECKING:
    pass

# ----------------------------------------------------------------------------- the commands


BODIES: Mapping[str, Callable[[Runtime], None]] = {
    "build-gate": build_gate,
    "render-manifests": render_manifests,
    "apply": apply_manifests,
    "set-deployment-status": set_deployment_status,
    "create-deployment": create_deployment,
    "stale-commit-notifier": stale_commit_notifier,
}


@click.group("action")
def action() -> None:
    """The steps of commit-train's GitHub Actions (inputs come from INPUT_* variables)."""


def _command(name: str) -> click.Command:
    spec = SPECS[name]
    body = BODIES[name]

    @click.command(name, help=f"Run the {name} action step (see docs/actions/{name}.md).")
    def command() -> None:
        run_step(spec, body)

    return command


for _name in BODIES:
    action.add_command(_command(_name))


if (
    __name__ == "__main__"
):  # python -m commit_train.faces.actions.steps NAME (before the CLI has it)
    action()
