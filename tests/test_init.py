"""``commit-train init`` end to end, in real git repositories: what it writes passes
actionlint, SchemaStore's workflow schema, zizmor and the config schema, and
``commit-train render`` renders it; it asks on a real terminal, and it never overwrites a
file without ``--force``."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from commit_train import config as config_module
from commit_train.faces.cli.main import cli
from tests.gitrepos import Repo
from tests.test_workflow_lint import actionlint, audit, findings, load, schema

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "commit_train" / "faces" / "cli" / "scaffold" / "workflows"
ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
    "DB_PASSWORD": None,
    "COMMIT_TRAIN_SECRETS": None,
}
WRITTEN = [
    ".commit-train.yml",
    "deploy/templates/deployment.yaml.j2",
    "deploy/templates/service.yaml.j2",
    "deploy/values/defaults.yaml",
    "deploy/values/staging.yaml",
    "deploy/values/production.yaml",
    ".github/workflows/build.yml",
    ".github/workflows/deploy.yml",
    ".github/workflows/stale-commits.yml",
]


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args], env=ENV, prog_name="commit-train")


def github_clone(tmp_path: Path, default_branch: str = "trunk") -> Repo:
    """A repository as a clone of acme/shop leaves it: origin on GitHub, origin/HEAD set."""
    repo = Repo(tmp_path / "shop", branch="work", config=None)
    repo.commit("Start the shop service")
    repo.git("remote", "add", "origin", "https://github.com/Acme/Shop.git")
    repo.git("update-ref", f"refs/remotes/origin/{default_branch}", "HEAD")
    repo.git("symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{default_branch}")
    return repo


def render_env(deploy: dict, step_id: str) -> dict[str, str]:
    (job,) = deploy["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("id") == step_id]
    return dict(step.get("env") or {})


def test_the_packaged_workflows_are_the_workflow_templates() -> None:
    """init writes from the package's copy; workflow-templates/ is what people read and copy."""
    packaged = sorted(p.name for p in PACKAGED.glob("*.yml"))
    assert packaged == ["build.yml", "deploy.yml", "stale-commits.yml"]
    for name in packaged:
        assert (PACKAGED / name).read_bytes() == (
            ROOT / "workflow-templates" / name
        ).read_bytes(), f"copy workflow-templates/{name} to {PACKAGED.relative_to(ROOT)}/ (or back)"


def test_init_writes_a_repository_that_lints_validates_and_renders(tmp_path: Path) -> None:
    repo = github_clone(tmp_path, "trunk")

    done = run(
        repo.root,
        "init",
        "--env",
        "staging",
        "--env",
        "production:production",
        "--secret",
        "DB_PASSWORD",
        "--json",
    )

    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["written"] == WRITTEN
    assert report["overwritten"] == []
    assert report["default_branch"] == "trunk"
    assert report["default_branch_from"] == "origin/HEAD"
    assert report["image"] == "ghcr.io/acme/shop"
    assert report["environments"] == [
        {"name": "staging", "production": False},
        {"name": "production", "production": True},
    ]
    for path in WRITTEN:
        assert (repo.root / path).is_file(), path

    # the config schema accepts it, and it says what was asked
    loaded = config_module.load(repo.root).config
    assert list(loaded.environments) == ["staging", "production"]
    assert loaded.environments["production"].production
    assert loaded.environments["production"].stale_after == 24 * 3600
    assert loaded.image == "ghcr.io/acme/shop"
    assert loaded.secrets == ("DB_PASSWORD",)
    assert loaded.default_branch is None  # origin/HEAD says it
    assert loaded.checks.ignore == ("Deploy to staging", "Deploy to production")

    # the placeholders are filled in
    workflows = repo.root / ".github" / "workflows"
    build = load(workflows / "build.yml")
    assert build["on"]["push"]["branches"] == ["trunk"]
    deploy = load(workflows / "deploy.yml")
    assert render_env(deploy, "render") == {"DB_PASSWORD": "${{ secrets.DB_PASSWORD }}"}
    assert render_env(deploy, "apply") == {
        "SLACK_WEBHOOK_DEPLOYS": "${{ secrets.SLACK_WEBHOOK_DEPLOYS }}",
        "DB_PASSWORD": "${{ secrets.DB_PASSWORD }}",
    }
    every = "".join(p.read_text(encoding="utf-8") for p in workflows.iterdir())
    assert "$default-branch" not in every
    assert "API_KEY" not in every

    # what GitHub and reviewers would check
    for path in sorted(workflows.iterdir()):
        assert [e.message for e in schema("github-workflows").iter_errors(load(path))] == []
    lint = subprocess.run(
        [actionlint(), "-no-color"], capture_output=True, text=True, cwd=repo.root
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audited = audit(sorted(p.relative_to(repo.root) for p in workflows.iterdir()), repo.root)
    assert findings(audited) == []

    # and the starter templates render for every environment, the image at the commit
    head = repo.git("rev-parse", "HEAD")
    rendered = run(repo.root, "render", "staging")
    assert rendered.exit_code == 0, rendered.output
    objects = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "shop"),
        ("Service", "shop"),
    ]
    deployment = objects[0]
    assert deployment["metadata"]["namespace"] == "shop"
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/acme/shop:{head}"
    assert {"name": "ENVIRONMENT", "value": "staging"} in container["env"]
    production = run(repo.root, "render", "production", "--json")
    assert production.exit_code == 0, production.output
    assert '"replicas": 2' in production.stdout


def test_with_no_flag_and_no_terminal_it_writes_staging_and_production(tmp_path: Path) -> None:
    """No origin at all: the current branch is the default one, and the config says so."""
    repo = Repo(tmp_path / "Web_App", branch="develop", config=None)
    repo.commit("first")

    done = run(repo.root, "init")

    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[: len(WRITTEN)] == [f"wrote {p}" for p in WRITTEN]
    assert "The default branch is develop (from the current branch)" in done.stdout
    assert done.stderr == (
        "note: origin is not a GitHub repository, so image: is ghcr.io/OWNER/web-app; "
        "write your image there\n"
    )
    loaded = config_module.load(repo.root).config
    assert {n: e.production for n, e in loaded.environments.items()} == {
        "staging": False,
        "production": True,
    }
    assert loaded.default_branch == "develop"
    assert loaded.secrets == ()
    workflows = repo.root / ".github" / "workflows"
    assert load(workflows / "build.yml")["on"]["push"]["branches"] == ["develop"]
    deploy = load(workflows / "deploy.yml")
    assert render_env(deploy, "render") == {}
    assert render_env(deploy, "apply") == {
        "SLACK_WEBHOOK_DEPLOYS": "${{ secrets.SLACK_WEBHOOK_DEPLOYS }}"
    }
    lint = subprocess.run(
        [actionlint(), "-no-color"], capture_output=True, text=True, cwd=repo.root
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert run(repo.root, "render", "staging").exit_code == 0


def test_the_stale_reminder_watches_the_production_environment(tmp_path: Path) -> None:
    repo = github_clone(tmp_path)
    done = run(repo.root, "init", "--env", "dev", "--env", "live:production", "--env", "qa")
    assert done.exit_code == 0, done.output
    stale = load(repo.root / ".github" / "workflows" / "stale-commits.yml")
    assert stale["on"]["workflow_dispatch"]["inputs"]["environment"]["default"] == "live"
    (job,) = stale["jobs"].values()
    assert job["steps"][-1]["with"]["environment"] == "${{ inputs.environment || 'live' }}"
    assert sorted(p.name for p in (repo.root / "deploy" / "values").iterdir()) == [
        "defaults.yaml",
        "dev.yaml",
        "live.yaml",
        "qa.yaml",
    ]


def test_it_never_overwrites_without_force_and_names_every_file(tmp_path: Path) -> None:
    repo = github_clone(tmp_path)
    ours = repo.root / ".github" / "workflows" / "build.yml"
    ours.parent.mkdir(parents=True)
    ours.write_text("name: ours\n")
    (repo.root / "deploy" / "values").mkdir(parents=True)
    (repo.root / "deploy" / "values" / "staging.yaml").write_text("replicas: 9\n")

    refused = run(repo.root, "init")

    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        "error: deploy/values/staging.yaml, .github/workflows/build.yml already exist; "
        "pass --force to overwrite them, or move them\n"
    )
    assert not (repo.root / ".commit-train.yml").exists(), "nothing written when refused"
    assert ours.read_text() == "name: ours\n"

    as_json = run(repo.root, "init", "--json")
    assert as_json.exit_code == 1
    decision = json.loads(as_json.stdout)
    assert decision["refused"] == "files-exist"
    assert decision["existing"] == ["deploy/values/staging.yaml", ".github/workflows/build.yml"]
    assert decision["written"] == []

    forced = run(repo.root, "init", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["overwritten"] == decision["existing"]
    assert "branches: [trunk]" in ours.read_text()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--env", "prod:live"],
            "error: --env 'prod:live': write NAME, or NAME:production for a production one\n",
        ),
        (
            ["--env", "env", "--env", "my,env"],
            "error: --env 'env' is given twice; name it once\n",
        ),
        (
            ["--env", "staging!"],
            "error: --env 'staging!': 'staging!' is not an environment name .commit-train.yml "
            "accepts; use letters, digits, '.', '_' and '-'\n",
        ),
        (
            ["--env", "stag ing"],  # a flag's name has no space (the prompt's answer may)
            "error: --env 'stag ing': 'stag ing' is not an environment name .commit-train.yml "
            "accepts; use letters, digits, '.', '_' and '-'\n",
        ),
        (
            ["--secret", "db-password"],
            "error: --secret 'db-password' is not a GitHub secret name; use letters, digits "
            "and '_', not starting with a digit or GITHUB_\n",
        ),
    ],
    ids=["flag", "twice", "name", "space", "secret"],
)
def test_bad_flags_are_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    repo = github_clone(tmp_path)
    done = run(repo.root, "init", *args)
    assert done.exit_code == 2
    assert done.stderr == line
    assert not (repo.root / ".commit-train.yml").exists()


def test_outside_a_repository_it_says_so(tmp_path: Path) -> None:
    done = run(tmp_path, "init")
    assert done.exit_code == 1
    assert done.stderr == (
        f"error: {tmp_path} is not inside a git repository; "
        "run it from a checkout or pass -C PATH\n"
    )


def _converse(argv: list[str], cwd: Path, prompt: str, answers: list[str]) -> str:
    """Run ``argv`` on a real terminal, typing the next answer each time ``prompt`` shows."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.chdir(cwd)
        env = {k: v for k, v in os.environ.items() if k not in ENV}
        os.execve(argv[0], argv, {**env, "NO_COLOR": "1"})
    seen = b""
    typed = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if seen.count(prompt.encode()) > typed and typed < len(answers):
                os.write(fd, answers[typed].encode() + b"\r")
                typed += 1
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return seen.decode("utf-8", "replace").replace("\r\n", "\n")


def test_on_a_terminal_it_asks_for_the_environments(tmp_path: Path) -> None:
    repo = github_clone(tmp_path)
    program = Path(sys.executable).with_name("commit-train")
    prompt = "Environments, in promotion order"

    shown = _converse(
        [str(program), "init"], repo.root, prompt, ["dev:staging", "dev, prod:production"]
    )

    assert "(NAME, or NAME:production for a production one) [staging, production:production]" in (
        shown
    )
    # a wrong answer is explained and asked again, until it is right
    assert "Error: 'dev:staging': write NAME, or NAME:production" in shown, shown
    assert shown.count(prompt) == 2
    assert "wrote .github/workflows/deploy.yml" in shown, shown
    loaded = config_module.load(repo.root).config
    assert {n: e.production for n, e in loaded.environments.items()} == {
        "dev": False,
        "prod": True,
    }


def test_the_wheel_carries_the_files_init_writes_from(tmp_path: Path) -> None:
    """``pipx install .`` / ``uv tool install .`` install the wheel: init must find its
    templates there, not only in a checkout."""
    import zipfile

    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not installed beside the interpreter")
    source = tmp_path / "source"  # a copy, so no build/ folder is left in the checkout
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [str(uv), "build", "--wheel", "--offline", "-o", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and "offline" in done.stderr.lower():
        pytest.skip("the build backend is not in uv's cache and the network is off")
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("commit_train-*.whl")
    scaffold = PACKAGED.parent
    with zipfile.ZipFile(wheel) as archive:
        for path in sorted(p for p in scaffold.rglob("*") if p.is_file()):
            name = f"commit_train/{path.relative_to(ROOT / 'src' / 'commit_train').as_posix()}"
            assert archive.read(name) == path.read_bytes(), name


def test_the_setup_guide_leads_with_init() -> None:
    setup = (ROOT / "docs" / "setup.md").read_text(encoding="utf-8")
    first = setup.split("\n## ", 2)[1]
    assert first.startswith("1. `commit-train init`")
    assert "commit-train init --env staging --env production:production" in first
    assert "pipx install commit-train" in first


def test_the_next_steps_name_every_secret_the_environments_need(tmp_path: Path) -> None:
    """The closing hint lists KUBECONFIG and each --secret: a deploy fails on any missing."""
    repo = github_clone(tmp_path)

    plain = run(repo.root, "init", "--env", "staging")
    assert plain.exit_code == 0, plain.output
    assert "create staging, each with the secret KUBECONFIG\n" in plain.stdout

    done = run(repo.root, "init", "--force", "--secret", "DB_PASSWORD", "--secret", "API_KEY")
    assert done.exit_code == 0, done.output
    assert (
        "in Settings > Environments on GitHub, create staging, production, each with the "
        "secrets KUBECONFIG, DB_PASSWORD, API_KEY\n"
    ) in done.stdout
