"""``commit-train init``: a repository's first commit-train files, ready to commit.

It writes, at the root of the repository:

- ``.commit-train.yml`` with the environments given (``--env staging --env
  production:production``), asked for on a terminal, or staging and production;
- a starter ``deploy/templates/`` (a Deployment and a Service) and ``deploy/values/``
  (``defaults.yaml`` and one file per environment), which ``commit-train render`` renders as
  they are;
- ``.github/workflows/build.yml``, ``deploy.yml`` and ``stale-commits.yml``, from the
  templates shipped in this package (the same files as the repository's
  ``workflow-templates/``), with their placeholders filled: the real default branch, the
  config's secrets handed to the render and apply steps one by one, and the environment the
  stale-commit reminder watches.

It never overwrites a file without ``--force``, and names every file in the way.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from commit_train.errors import CommitTrainError, GitError, UsageError

DEFAULT_ENVIRONMENTS = "staging, production:production"
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/:@-]*$")

# The example secret line of the deploy template, in its render step and in its apply step
# (whose auto-rollback renders again): init writes one line per secret of the config instead.
_RENDER_SECRETS = "        env:\n          API_KEY: ${{ secrets.API_KEY }}\n"
_APPLY_SECRETS = (
    "          API_KEY: ${{ secrets.API_KEY }} # the same names: auto-rollback renders again\n"
)
_STALE_DEFAULT = "        default: production\n"
_STALE_FALLBACK = "|| 'production' }}"
_BRANCH_PLACEHOLDER = "[$default-branch]"


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    production: bool


def parse_environments(
    specs: list[str] | tuple[str, ...], *, spaces: bool = False
) -> list[EnvironmentSpec]:
    """``NAME`` or ``NAME:production`` each (several may share one string, separated by
    commas, and by spaces too where ``spaces``: the prompt's answer); a name given twice, a
    name with a space in an ``--env`` flag, or anything else after the colon, is a usage
    error."""
    from commit_train.config import CONFIG_FILE

    found: list[EnvironmentSpec] = []
    for spec in specs:
        for item in re.split(r"[,\s]+" if spaces else r"\s*,\s*", spec.strip()):
            if not item:
                continue
            name, colon, flag = item.partition(":")
            if colon and flag != "production":
                raise UsageError(
                    f"--env {item!r}: write NAME, or NAME:production for a production one"
                )
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}", name):
                raise UsageError(
                    f"--env {item!r}: {name!r} is not an environment name {CONFIG_FILE} accepts",
                    fix="use letters, digits, '.', '_' and '-'",
                )
            if any(e.name == name for e in found):
                raise UsageError(f"--env {name!r} is given twice", fix="name it once")
            found.append(EnvironmentSpec(name, bool(colon)))
    if not found:
        raise UsageError("no environment given", fix="pass --env NAME (or NAME:production)")
    return found


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back as the same string."""
    import yaml

    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)


def _commented(line: str, comment: str) -> str:
    return f"{line.ljust(33)} # {comment}"


def _dns_label(text: str) -> str:
    """A Kubernetes object name from a repository name: ``My_Shop`` -> ``my-shop``."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    label = re.sub(r"^[^a-z]+", "", label)[:63].strip("-")
    return label or "app"


# -- what to write ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Everything ``init`` decided, and the files it makes of it (path -> text)."""

    root: Path
    default_branch: str
    branch_from: str  # "origin/HEAD", "the current branch" or "--default-branch"
    image: str
    image_guessed: bool  # no GitHub origin to take it from
    name: str
    environments: tuple[EnvironmentSpec, ...]
    secrets: tuple[str, ...]
    files: dict[str, str]


def _scaffold() -> Any:
    from importlib import resources  # here: it costs start-up time every other command saves

    return resources.files("commit_train.faces.cli").joinpath("scaffold")


def _read(*parts: str) -> str:
    node = _scaffold()
    for part in parts:
        node = node.joinpath(part)
    text: str = node.read_text(encoding="utf-8")
    return text


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    if text.count(old) != 1:  # the shipped template changed shape: a bug here, not the user's
        raise CommitTrainError(
            f"the packaged {where} has no single {old.strip()!r} to fill in",
            fix="report it: commit-train init and its templates disagree",
        )
    return text.replace(old, new)


def build_workflow(default_branch: str) -> str:
    return _replace_once(
        _read("workflows", "build.yml"),
        _BRANCH_PLACEHOLDER,
        f"[{_scalar(default_branch)}]",
        "build.yml",
    )


def deploy_workflow(secrets: tuple[str, ...]) -> str:
    text = _read("workflows", "deploy.yml")
    if secrets:
        lines = "".join(f"          {name}: ${{{{ secrets.{name} }}}}\n" for name in secrets)
        render = "        env:\n" + lines
        first, *rest = secrets
        apply = f"          {first}: ${{{{ secrets.{first} }}}} # the same names: auto-rollback renders again\n"  # noqa: E501
        apply += "".join(f"          {name}: ${{{{ secrets.{name} }}}}\n" for name in rest)
    else:
        render = "        # env:\n        #   NAME: ${{ secrets.NAME }}\n"
        apply = ""
    text = _replace_once(text, _RENDER_SECRETS, render, "deploy.yml")
    return _replace_once(text, _APPLY_SECRETS, apply, "deploy.yml")


def stale_workflow(environment: str) -> str:
    text = _read("workflows", "stale-commits.yml")
    text = _replace_once(text, _STALE_DEFAULT, f"        default: {environment}\n", "stale")
    return _replace_once(text, _STALE_FALLBACK, f"|| '{environment}' }}}}", "stale")


def config_text(
    *,
    image: str,
    name: str,
    environments: list[EnvironmentSpec],
    secrets: tuple[str, ...],
    default_branch: str | None,
) -> str:
    c = _commented
    lines = [
        "# commit-train: which commits of the default branch deploy where (docs/config.md)",
        "version: 1",
        c(f"image: {_scalar(image)}", "build.yml pushes it tagged with the full commit sha"),
    ]
    if default_branch is not None:
        lines.append(c(f"default-branch: {_scalar(default_branch)}", "the train's branch"))
    ignore = ", ".join(_scalar(f"Deploy to {e.name}") for e in environments)
    lines += [
        "manifests:",
        c("  path: deploy/templates", "Jinja2 templates of the Kubernetes objects"),
        c("  values: deploy/values", "defaults.yaml, then <environment>.yaml"),
        "kubernetes:",
        c(f"  namespace: {_scalar(name)}", "for the objects that name none"),
        "checks:",
        c(f"  ignore: [{ignore}]", "the deploy job's own checks"),
        c(f"secrets: [{', '.join(secrets)}]", "templates read them as {{ secrets.NAME }}"),
        "environments:",
    ]
    for env in environments:
        if env.production:
            lines += [
                f"  {_scalar(env.name)}:",
                "    production: true",
                c("    stale-after: 24h", "stale-commits.yml reminds after this long"),
            ]
        else:
            lines.append(f"  {_scalar(env.name)}: {{}}")
    return "\n".join(lines) + "\n"


def values_text(name: str) -> str:
    return (
        "# Values of every environment; deploy/values/<environment>.yaml overrides them.\n"
        f"name: {_scalar(name)}\n"
        "replicas: 1\n"
        "port: 8080              # the container's port; the Service listens on 80\n"
        "env: {}                 # extra environment variables of the container\n"
        "resources:\n"
        "  requests: {cpu: 100m, memory: 128Mi}\n"
        "  limits: {memory: 256Mi}\n"
    )


def environment_values_text(env: EnvironmentSpec) -> str:
    replicas = 2 if env.production else 1
    return (
        f"# Values of {env.name}, merged over defaults.yaml key by key.\n"
        f"replicas: {replicas}\n"
        "env:\n"
        "  LOG_LEVEL: info\n"
    )


def starter_files(name: str, environments: list[EnvironmentSpec]) -> dict[str, str]:
    """The starter templates and values (path -> text) of an app called ``name``."""
    return {
        "deploy/templates/deployment.yaml.j2": _read("deploy", "templates", "deployment.yaml.j2"),
        "deploy/templates/service.yaml.j2": _read("deploy", "templates", "service.yaml.j2"),
        "deploy/values/defaults.yaml": values_text(name),
        **{f"deploy/values/{e.name}.yaml": environment_values_text(e) for e in environments},
    }


def _default_branch(git: Any, given: str | None) -> tuple[str, str]:
    if given:
        return given, "--default-branch"
    for args, source in (
        (("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"), "origin/HEAD"),
        (("symbolic-ref", "--quiet", "HEAD"), "the current branch"),
    ):
        try:
            target = str(git.run(*args))
        except GitError:
            continue
        for prefix in ("refs/remotes/origin/", "refs/heads/"):
            if target.startswith(prefix):
                return target.removeprefix(prefix), source
    raise UsageError(
        "cannot tell the default branch: no origin/HEAD, and HEAD is on no branch",
        fix="pass --default-branch NAME (or run: git remote set-head origin -a)",
    )


def plan(
    git: Any,
    environments: list[EnvironmentSpec],
    *,
    image: str | None,
    secrets: tuple[str, ...],
    default_branch: str | None,
) -> Plan:
    from commit_train import config as config_module

    for secret in secrets:
        if not _SECRET_NAME.match(secret) or secret.upper().startswith("GITHUB_"):
            raise UsageError(
                f"--secret {secret!r} is not a GitHub secret name",
                fix="use letters, digits and '_', not starting with a digit or GITHUB_",
            )
    if len(set(secrets)) != len(secrets):
        raise UsageError("a --secret is given twice", fix="name each secret once")
    root: Path = git.root
    branch, branch_from = _default_branch(git, default_branch)
    origin = git.origin()
    repo_name = origin.full_name.split("/")[1] if origin is not None else root.name
    name = _dns_label(repo_name)
    guessed = False
    if image is None:
        if origin is not None:
            image = f"ghcr.io/{origin.full_name.lower()}"
        else:
            image, guessed = f"ghcr.io/OWNER/{name}", True
    config = config_text(
        image=image,
        name=name,
        environments=environments,
        secrets=secrets,
        # origin/HEAD is what GitHub and commit-train read; otherwise the config says it
        default_branch=None if branch_from == "origin/HEAD" else branch,
    )
    config_module.parse(config)  # what init writes, the schema accepts
    watched = next((e.name for e in environments if e.production), environments[-1].name)
    files = {
        config_module.CONFIG_FILE: config,
        **starter_files(name, environments),
        ".github/workflows/build.yml": build_workflow(branch),
        ".github/workflows/deploy.yml": deploy_workflow(secrets),
        ".github/workflows/stale-commits.yml": stale_workflow(watched),
    }
    return Plan(
        root=root,
        default_branch=branch,
        branch_from=branch_from,
        image=image,
        image_guessed=guessed,
        name=name,
        environments=tuple(environments),
        secrets=secrets,
        files=files,
    )


def write(found: Plan, *, force: bool) -> tuple[list[str], list[str]]:
    """Write the plan's files; returns (written, overwritten). Without ``force`` an existing
    file stops everything before anything is written."""
    existing = [path for path in found.files if (found.root / path).exists()]
    if existing and not force:
        raise InitRefused(existing)
    for path, text in found.files.items():
        target = found.root / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommitTrainError(
                f"cannot write {path} ({exc.strerror})", fix="check the folder's permissions"
            ) from None
    return list(found.files), existing


class InitRefused(CommitTrainError):
    """Files ``init`` would write are there already."""

    def __init__(self, existing: list[str]) -> None:
        names = ", ".join(existing)
        them = "it" if len(existing) == 1 else "them"
        verb = "exists" if len(existing) == 1 else "exist"
        super().__init__(
            f"{names} already {verb}", fix=f"pass --force to overwrite {them}, or move {them}"
        )
        self.existing = existing


# -- the command ---------------------------------------------------------------------------


def _ask_environments() -> list[EnvironmentSpec]:
    def parse_answer(text: str) -> list[EnvironmentSpec]:
        try:
            return parse_environments([text], spaces=True)
        except UsageError as exc:
            raise click.BadParameter(str(exc).replace("--env ", "")) from None

    answer: list[EnvironmentSpec] = click.prompt(
        "Environments, in promotion order (NAME, or NAME:production for a production one)",
        default=DEFAULT_ENVIRONMENTS,
        value_proc=parse_answer,
    )
    return answer


def _json(found: Plan, written: list[str], overwritten: list[str]) -> dict[str, Any]:
    return {
        "version": 1,
        "root": str(found.root),
        "default_branch": found.default_branch,
        "default_branch_from": found.branch_from,
        "image": found.image,
        "environments": [{"name": e.name, "production": e.production} for e in found.environments],
        "secrets": list(found.secrets),
        "written": written,
        "overwritten": overwritten,
    }


@click.command("init")
@click.option(
    "--env",
    "env_specs",
    multiple=True,
    metavar="NAME[:production]",
    help="An environment, in promotion order; repeat it. Default: asked on a terminal, "
    "else staging and production:production.",
)
@click.option(
    "--image",
    default=None,
    help="The container image without a tag (default: ghcr.io/OWNER/NAME of origin, "
    "where build.yml pushes).",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME",
    help="A secret the templates read; repeat it. deploy.yml hands each to the steps by name.",
)
@click.option(
    "--default-branch",
    default=None,
    metavar="BRANCH",
    help="The branch whose commits deploy (default: origin/HEAD, else the current branch).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def init_command(
    ctx: click.Context,
    env_specs: tuple[str, ...],
    image: str | None,
    secrets: tuple[str, ...],
    default_branch: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Write .commit-train.yml, starter templates and values, and the three workflows.

    In the repository's root: .commit-train.yml, deploy/templates/ (a Deployment and a
    Service), deploy/values/, and .github/workflows/ build.yml, deploy.yml and
    stale-commits.yml with the default branch and the secrets filled in. Nothing that exists
    is overwritten without --force.
    """
    from commit_train.gitrepo import GitRepo

    directory = getattr(ctx.obj, "directory", None)
    git = GitRepo.discover(Path(directory) if directory else Path.cwd())
    if env_specs:
        environments = parse_environments(env_specs)
    elif sys.stdin.isatty() and not as_json:
        environments = _ask_environments()
    else:
        environments = parse_environments([DEFAULT_ENVIRONMENTS])
    found = plan(git, environments, image=image, secrets=secrets, default_branch=default_branch)
    try:
        written, overwritten = write(found, force=force)
    except InitRefused as refused:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        **_json(found, [], []),
                        "refused": "files-exist",
                        "existing": refused.existing,
                    },
                    indent=2,
                )
            )
        raise
    if as_json:
        click.echo(json.dumps(_json(found, written, overwritten), indent=2))
        return
    for path in written:
        click.echo(f"{'overwrote' if path in overwritten else 'wrote'} {path}")
    names = ", ".join(e.name for e in found.environments)
    click.echo(
        f"\nThe default branch is {found.default_branch} (from {found.branch_from}); "
        f"environments: {names}."
    )
    if found.image_guessed:
        click.echo(
            f"note: origin is not a GitHub repository, so image: is {found.image}; "
            "write your image there",
            err=True,
        )
    first = found.environments[0].name
    needed = ", ".join(("KUBECONFIG", *found.secrets))
    plural = "s" if found.secrets else ""
    click.echo(
        "Next:\n"
        f"  commit-train render {first}    # the manifests, checked against Kubernetes' schemas\n"
        f"  in Settings > Environments on GitHub, create {names}, each with the "
        f"secret{plural} {needed}\n"
        "  git add .commit-train.yml deploy .github && git commit -m 'Deploy with commit-train'"
    )
