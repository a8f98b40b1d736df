"""Every ``action.yml`` declares and maps exactly what its command reads and writes.

The code declares each action's inputs and outputs once (``actions_cmd.SPECS``), and the
runtime refuses to read or write anything else, so comparing each ``action.yml`` with its
spec proves the two agree: names, required flags, literal defaults, the ``env:`` mapping of
every input to its ``INPUT_*`` variable, and every output taken from the step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from commit_train.faces.actions.io import input_env_name
from commit_train.faces.actions.steps import BODIES, SPECS

ROOT = Path(__file__).resolve().parents[1]
ACTION_DIRS = sorted(p.parent for p in (ROOT / "actions").glob("*/action.yml"))
COMMAND = re.compile(r'^\s*"\$exe" action ([a-z-]+)\s*$', re.M)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_spec_has_an_action_and_a_command() -> None:
    assert {p.name for p in ACTION_DIRS} == set(SPECS)
    assert set(BODIES) == set(SPECS)


@pytest.mark.parametrize("folder", ACTION_DIRS, ids=lambda p: p.name)
def test_inputs_and_outputs_match_the_code(folder: Path) -> None:
    action = load(folder / "action.yml")
    spec = SPECS[folder.name]
    declared = action.get("inputs") or {}
    assert list(declared) == [i.name for i in spec.inputs]
    for item in spec.inputs:
        meta = declared[item.name]
        assert meta["description"].strip(), item.name
        assert bool(meta.get("required", False)) is item.required, item.name
        default = meta.get("default")
        if isinstance(default, str) and "${{" in default:
            assert item.default is None, f"{item.name}: an expression default is not literal"
        else:
            assert default == item.default, item.name
    outputs = action.get("outputs") or {}
    assert list(outputs) == list(spec.outputs)
    for name, meta in outputs.items():
        assert meta["description"].strip(), name
        assert meta["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


@pytest.mark.parametrize("folder", ACTION_DIRS, ids=lambda p: p.name)
def test_one_composite_step_maps_every_input_and_runs_its_command(folder: Path) -> None:
    action = load(folder / "action.yml")
    spec = SPECS[folder.name]
    assert action["runs"]["using"] == "composite"
    (step,) = action["runs"]["steps"]
    assert step["id"] == "run"
    assert step["shell"] == "bash"
    assert step["env"] == {i.env_name: f"${{{{ inputs.{i.name} }}}}" for i in spec.inputs}
    script = step["run"]
    assert script.splitlines()[0] == "set -euo pipefail"
    assert '"$GITHUB_ACTION_PATH/../install.sh"' in script
    assert COMMAND.findall(script) == [folder.name]


def test_the_root_action_runs_the_whole_deploy() -> None:
    action = load(ROOT / "action.yml")
    inputs = action["inputs"]
    steps = action["runs"]["steps"]
    commands = []
    used: set[str] = set()
    for step in steps:
        (command,) = COMMAND.findall(step["run"])
        commands.append(command)
        spec = SPECS[command]
        names = {i.env_name: i for i in spec.inputs}
        assert set(step["env"]) <= set(names), f"{step['id']} maps inputs {command} lacks"
        for item in spec.inputs:
            if item.required:
                assert item.env_name in step["env"], f"{step['id']} misses {item.name}"
        for value in step["env"].values():
            used.update(re.findall(r"inputs\.([a-z-]+)", str(value)))
        assert '"$GITHUB_ACTION_PATH/actions/install.sh"' in step["run"]
    assert commands == [
        "create-deployment",
        "set-deployment-status",
        "build-gate",
        "render-manifests",
        "apply",
        "set-deployment-status",
    ]
    assert used == set(inputs), "every root input is passed to some step"
    assert steps[0]["if"] == "github.event_name == 'workflow_dispatch'"
    assert steps[-1]["if"].startswith("always()")
    assert steps[1]["env"]["INPUT_STATE"] == "in_progress"
    by_id = {s["id"]: SPECS[COMMAND.findall(s["run"])[0]] for s in steps}
    for name, meta in action["outputs"].items():
        step_id, output = re.fullmatch(
            r"\$\{\{ steps\.([a-z]+)\.outputs\.([a-z-]+) \}\}", meta["value"]
        ).groups()
        assert output in by_id[step_id].outputs, f"output {name}: {step_id} has no {output}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_env_names_are_shell_names(name: str) -> None:
    for item in SPECS[name].inputs:
        assert re.fullmatch(r"INPUT_[A-Z0-9_]+", input_env_name(item.name))
