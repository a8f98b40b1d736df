"""A deploy run's parameters, and the step every run shares: render, apply, wait, record.

``RunOptions`` is how a run goes (timeout, dry run, force, auto-rollback, where secrets
come from, where lines go); a face builds it once from its flags or inputs. ``DeployRun``
is one whole run: what (the commit and its deployment), where (the environment, the
commit's tree and config, the cluster and the ApplySet) and how (its ``RunOptions``). Both
are frozen and passed down whole, so a new option is one field, not a parameter threaded
through four functions.

``apply_and_wait`` is one apply and its wait (the ``apply`` action calls it on the
manifests the render step left); ``render_and_apply`` renders a run's tree first (a deploy
and an auto-rollback share it). ``Recorder`` writes the statuses of one deployment and makes
sure it never stays ``in_progress``; ``failure_state`` says which final state an error
deserves. Every line handed to ``on_line`` has secret values replaced; nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commit_train import config as config_module
from commit_train.config import Config
from commit_train.core.redact import REDACTED, redact_text
from commit_train.core.text import clip, plural
from commit_train.errors import (
    ConfigError,
    KubeError,
    RefusedError,
    RenderError,
    SurroundingsError,
    TemporaryError,
)
from commit_train.models import Deployment, DeployState
from commit_train.service.results import RunResult

if TYPE_CHECKING:
    from commit_train.gitrepo import GitRepo
    from commit_train.render.manifests import Rendered
    from commit_train.service.train import Train

ApiFactory = Callable[[], Any]
"""Makes a ``kubernetes.client.ApiClient``; the run closes it when done."""
Lines = Callable[[str], None]
Group = Callable[[str], AbstractContextManager[None]]


def _nothing(_line: str) -> None:
    return None


@contextlib.contextmanager
def _no_group(_title: str) -> Iterator[None]:
    yield


def applyset_name(repository: str) -> str:
    """The ApplySet that holds a service's objects: its repository's name, lower-cased
    and cleaned (``acme/Shop_API`` -> ``shop-api``); the same from Actions and the CLI."""
    name = repository.rpartition("/")[2].lower()
    name = re.sub(r"[^a-z0-9.-]+", "-", name).strip("-.")
    return name or "commit-train"


def failure_state(error: BaseException) -> DeployState:
    """``failure`` when the change itself is wrong (refused, a bad config or template, a
    manifest the cluster refuses, a conflict, a failed rollout), ``error`` when its
    surroundings broke (``SurroundingsError``, ``TemporaryError``: the cluster unreachable,
    GitHub down, credentials refused) or the cause is unknown (a bug). Only ``failure``
    counts in the change failure rate."""
    if isinstance(error, SurroundingsError | TemporaryError):
        return DeployState.ERROR
    if isinstance(error, RefusedError | ConfigError | RenderError | KubeError):
        return DeployState.FAILURE
    return DeployState.ERROR


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class RunOptions:
    """How a deploy run goes; a face builds it once.

    ``timeout`` (seconds) defaults to the config's ``rollout-timeout`` and ``auto_rollback``
    to the environment's ``auto-rollback``. ``dry_run`` applies with ``dryRun=All``, waits
    for nothing and records nothing; ``force`` takes fields other field managers own.
    ``env`` is where secrets and ``COMMIT_TRAIN_*`` settings are read (default
    ``os.environ``). ``run_url`` is the log a status links to; ``on_line`` gets every line a
    person reads and ``group`` folds a phase of them (an Actions log group). ``on_progress``
    gets a rollout's progress lines instead (each replaces the one before it: the CLI
    rewrites one terminal line), default ``on_line``.
    """

    timeout: float | None = None
    dry_run: bool = False
    force: bool = False
    auto_rollback: bool | None = None
    env: Mapping[str, str] | None = None
    run_url: str | None = None
    on_line: Lines = _nothing
    group: Group = _no_group
    on_progress: Lines | None = None

    @property
    def environ(self) -> Mapping[str, str]:
        import os

        return os.environ if self.env is None else self.env


@dataclass(frozen=True)
class DeployRun:
    """One deploy run: what, where and how.

    What: ``sha`` and its ``deployment`` (None: a dry run, or nothing recorded), or only
    the deployment's id (``deployment_id``, the ``apply`` action reads it from the render
    step). Where: ``environment``, the commit's tree ``root`` and its ``config``, the
    cluster (``make_client``, from the kubeconfig and context) and the ``applyset``. How:
    ``how``.
    """

    sha: str
    environment: str
    config: Config
    make_client: ApiFactory
    applyset: str
    root: Path | None = None
    deployment: Deployment | None = None
    deployment_id: int | str | None = None
    how: RunOptions = RunOptions()

    @property
    def namespace(self) -> str:
        return self.config.namespace_of(self.environment)

    @property
    def timeout(self) -> float:
        """Seconds to wait for the rollouts: ``how.timeout`` or the config's."""
        if self.how.timeout is not None:
            return self.how.timeout
        return self.config.kubernetes.rollout_timeout

    @property
    def recorded_id(self) -> int | str | None:
        """The id the objects are annotated with: the deployment's, else ``deployment_id``."""
        return self.deployment.id if self.deployment is not None else self.deployment_id

    @property
    def rolls_back(self) -> bool:
        """Whether a failed rollout is rolled back (never in a dry run)."""
        wanted = self.how.auto_rollback
        if wanted is None:
            wanted = self.config.environment(self.environment).auto_rollback
        return wanted and not self.how.dry_run

    def say(self, line: str) -> None:
        self.how.on_line(line)


# ----------------------------------------------------------------------------- apply + wait


def apply_and_wait(
    run: DeployRun,
    objects: Sequence[Mapping[str, Any]],
    *,
    secret_values: frozenset[str] = frozenset(),
) -> RunResult:
    """Server-side apply ``objects`` as ``run``'s ApplySet and wait for the rollouts.

    Every object is annotated with the run's sha, deployment id and run url. A dry run
    applies with ``dryRun=All`` and waits for nothing. Raises ``KubeError`` when the apply
    itself is refused (a conflict names the other field manager) or the cluster cannot be
    reached; a rollout that fails or times out is a ``RunResult`` that is not ``ok``.
    """
    from commit_train.kube.apply import apply
    from commit_train.kube.objects import ApplyOptions, deploy_annotations
    from commit_train.kube.wait import wait_for_rollouts

    how = run.how
    namespace = run.namespace

    def say(line: str) -> None:
        how.on_line(redact_text(line, secret_values))

    def progress(line: str) -> None:
        (how.on_progress or how.on_line)(redact_text(line, secret_values))

    options = ApplyOptions(
        applyset=run.applyset,
        namespace=namespace,
        annotations=deploy_annotations(
            sha=run.sha, deployment_id=run.recorded_id or "", run_url=how.run_url
        ),
        force=how.force,
        dry_run=how.dry_run,
        secret_values=secret_values,
    )
    client = run.make_client()
    try:
        with how.group(f"Apply {plural(len(objects), 'object')} to {namespace}"):
            result = apply(client, objects, options)
            objects_done = tuple(
                dataclasses.replace(r, diff=tuple(_safe_diff(d, secret_values) for d in r.diff))
                for r in result.results
            )
            for item in objects_done:
                say(f"{item.ref}: {item.action.value}")
                for line in item.diff:
                    say(f"    {line}")
        diagnosis_lines: list[str] = []
        cause = ""
        if how.dry_run:
            rollout, wait_line = "skipped", "dry run: no rollout"
        else:
            with how.group(f"Wait for {plural(len(result.workloads), 'rollout')}"):
                waited = wait_for_rollouts(
                    client, result.workloads, timeout=run.timeout, on_progress=progress
                )
            rollout = "complete" if waited.ok else "timed-out" if waited.timed_out else "failed"
            wait_line = waited.summary_line
            for status in waited.failing:
                diagnosis = waited.diagnoses.get(status.ref)
                if diagnosis is None:
                    continue
                cause = cause or diagnosis.summary
                diagnosis_lines.extend(diagnosis.details)
    finally:
        client.close()
    apply_line = result.summary_line
    if rollout in ("complete", "skipped"):
        summary = f"{apply_line}; {wait_line}"
    else:
        what = "rollout timed out" if rollout == "timed-out" else "rollout failed"
        summary = f"{what}: {cause}" if cause else wait_line
    details = (apply_line, f"rollout {rollout}: {wait_line}", *diagnosis_lines)
    return RunResult(
        environment=run.environment,
        namespace=namespace,
        sha=run.sha,
        dry_run=how.dry_run,
        objects=objects_done,
        counts=result.counts,
        apply_line=apply_line,
        rollout=rollout,
        rollout_line=redact_text(wait_line, secret_values),
        summary=clip(redact_text(summary, secret_values)),
        details=tuple(redact_text(line, secret_values) for line in details),
    )


def _safe_diff(line: str, secret_values: frozenset[str]) -> str:
    """A dry run's ``path: old -> new`` line with secrets hidden. When one side is a known
    secret, the other side is hidden too: after a rotation the live (old) value is a secret
    this render no longer knows, and it must not show next to the redacted new one."""
    shown = redact_text(line, secret_values)
    if REDACTED in shown and " -> " in shown:
        path = shown.split(": ", 1)[0]
        return f"{path}: {REDACTED} -> {REDACTED}"
    return shown


def render_and_apply(
    run: DeployRun, recorder: Recorder, *, announce: bool = False
) -> tuple[Rendered, RunResult]:
    """The step a deploy and an auto-rollback share: render ``run.root``'s templates with
    ``run.config`` for its deployment (its id and requester reach the templates), then
    apply and wait. ``recorder`` learns the secret values as soon as they are known, so
    whatever fails afterwards is recorded redacted. ``announce`` tells ``on_line`` the
    render's notes and object count first."""
    from commit_train.render.manifests import DeploymentInfo
    from commit_train.render.templates import render

    if run.root is None:
        raise ValueError("render_and_apply needs the run's tree (root)")
    deployment = run.deployment
    info = (
        DeploymentInfo(deployment.id, deployment.requested_by, deployment.url)
        if deployment is not None
        else None
    )
    rendered = render(
        run.root,
        run.config,
        environment=run.environment,
        sha=run.sha,
        deployment=info,
        env=run.how.environ,
    )
    recorder.secret_values = rendered.secret_values
    if announce:
        for note in rendered.notes:
            run.say(f"note: {note}")
        run.say(
            f"rendered {plural(len(rendered.objects), 'object')} for {run.environment} "
            f"at {run.sha[:7]}"
        )
    result = apply_and_wait(
        run, [m.obj for m in rendered.apply_order()], secret_values=rendered.secret_values
    )
    return rendered, result


# ----------------------------------------------------------------------------- a commit's tree


@contextlib.contextmanager
def commit_tree(git: GitRepo, sha: str) -> Iterator[Path]:
    """A temporary folder holding the tree of ``sha`` (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="commit-train-tree-") as scratch:
        yield git.export(sha, Path(scratch) / "tree")


def tree_config(root: Path, fallback: Config) -> Config:
    """The commit's own ``.commit-train.yml`` (templates, values, image and namespace of
    that commit), else ``fallback`` when the commit has none."""
    loaded = config_module.load(root)
    return loaded.config if loaded.path is not None else fallback


# ----------------------------------------------------------------------------- the record


@dataclass
class Recorder:
    """Statuses of one deployment; ``close`` makes sure it never stays in progress."""

    train: Train | None
    deployment: Deployment | None
    log_url: str | None
    secret_values: frozenset[str]
    finished: bool = False

    @property
    def active(self) -> bool:
        return self.train is not None and self.deployment is not None

    def settle(
        self, state: DeployState, description: str, *, within: float | None = None
    ) -> str | None:
        """Record a final status on a failure path: a recording error must not hide the
        failure being recorded, so it is answered as a warning instead of raised.

        ``within`` (seconds) bounds the write: a process told to stop has only a few
        seconds before it is killed (GitHub Actions sends SIGKILL 2.5 s after SIGTERM),
        so the write runs in a thread that is left behind when it takes longer."""
        try:
            if within is None:
                self.status(state, description)
            else:
                within_seconds(within, lambda: self.status(state, description))
        except Exception as exc:  # the original error is the one to raise
            return f"could not record {state.value} on deployment: {exc}"
        return None

    def status(
        self, state: DeployState, description: str, *, environment_url: str | None = None
    ) -> None:
        if self.train is None or self.deployment is None:
            return
        self.train.set_status(
            self.deployment.id,
            state,
            description=clip(redact_text(description, self.secret_values)),
            log_url=self.log_url,
            environment_url=environment_url,
        )
        if state.finished:
            self.finished = True


def within_seconds(seconds: float, write: Callable[[], object]) -> None:
    """Run ``write`` in a daemon thread and wait at most ``seconds`` for it; raise
    ``TimeoutError`` when it is still running then (it dies with the process), or what
    it raised."""
    import threading

    done = threading.Event()
    failed: list[BaseException] = []

    def target() -> None:
        try:
            write()
        except BaseException as exc:  # handed to the waiting thread
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="commit-train-final-status", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"no answer within {seconds:g} s")
    if failed:
        raise failed[0]
