"""Every error commit-train raises on purpose, in one tree.

Each error's ``str()`` is one line a person can act on: what went wrong, then what to do.
The CLI prints that line and exits with ``exit_code``; an action also writes it as the
deployment status description. Nothing here imports click or prints.

::

    CommitTrainError                    exit 1
    ├── ConfigError                     .commit-train.yml is wrong (file, key path, fix)
    ├── RenderError                     a template, values file or manifest is wrong (file:line)
    ├── UsageError                      exit 2: the command line itself is wrong
    ├── RefusedError                    the gate said no (not on the default branch, red, locked...)
    ├── NotFoundError                   a ref, sha, environment or deployment that does not exist
    │   └── AmbiguousRefError           a short sha that matches several commits
    ├── GitError                        the local git repository could not answer
    ├── LedgerError                     the deploy journal could not be read or written
    ├── NotQueuedError                  exit 3: the deployment exists, its queued status does not
    ├── GitHubError                     GitHub answered with an error we cannot work around
    │   ├── AuthError                   401, or 403 without a rate limit: the token is wrong
    │   ├── GitHubRefusedError          409, 422 or another 4xx: GitHub will not do it as asked
    │   └── TemporaryGitHubError        worth retrying later (``delay`` seconds, if known)
    │       ├── RateLimitError          primary or secondary limit, and the wait is too long
    │       └── GitHubUnavailableError  5xx or no connection after the bounded retries
    ├── KubeError                       the Kubernetes API refused or the rollout failed
    └── StoppedError                    exit 128+N: a signal stopped the run (SIGTERM...)

    Stopped (a BaseException)           raised by the faces' signal handler mid-run, so
                                        no ``except Exception`` on the way swallows it;
                                        the face turns it into ``StoppedError`` at its edge

Across that tree, mix-ins say what broke, which decides how a deploy that meets the error
ends and whether retrying can help::

    PermanentError          the request or the change itself is wrong: the same one fails
    │                       again; retrying cannot help
    │                       ConfigError RenderError UsageError RefusedError NotFoundError
    │                       GitError GitHubRefusedError
    SurroundingsError       something around the change broke (a service down or
    │                       unreachable, credentials refused): a deploy that meets one
    │                       ends ``error``, never ``failure``
    │                       AuthError NotQueuedError
    └── TemporaryError      ...and the same request may succeed later (``delay``)
                            TemporaryGitHubError RateLimitError GitHubUnavailableError

The GitHub backend maps each of GitHub's answers to one of these in one table
(``backends/github/answers.py``).

``KubeError``'s subclasses, chosen by the one table in ``commit_train.kube.errors``::

    KubeError
    ├── TemporaryKubeError              surroundings: worth retrying later (410 Gone)
    │   └── KubeUnreachableError        no connection, a timeout, 429 or 5xx
    ├── KubeCredentialsError            surroundings: no usable kubeconfig, 401 or 403
    ├── KubeNotInstalledError           the change names a kind or namespace the cluster lacks
    ├── KubeInvalidError                the change is bad: 400, 409 conflict, 422 invalid
    └── RolloutError                    the change's rollout failed or timed out
"""

from __future__ import annotations


class SurroundingsError(Exception):
    """Mix-in: what broke is around the change, not the change (a service down or
    unreachable, credentials refused); a deploy that meets one ends ``error``."""


class TemporaryError(SurroundingsError):
    """Mix-in: the same request may succeed later; ``delay`` is a hint in seconds."""

    delay: float | None = None


class PermanentError(Exception):
    """Mix-in: retrying the same request cannot help."""


class CommitTrainError(Exception):
    """Base of every error commit-train raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message)

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}; {self.fix}"
        return self.message


class ConfigError(CommitTrainError, PermanentError):
    """The config file is missing, unreadable or invalid."""


class RenderError(CommitTrainError, PermanentError):
    """A template, a values file, a secret or a rendered manifest is wrong.

    ``file`` and ``line`` (when known) point at the template line to fix, so an action can
    write an annotation on it; the message already starts with ``file:line:``.
    """

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.file = file
        self.line = line


class UsageError(CommitTrainError, PermanentError):
    """The command line is wrong (exit code 2, like click's own usage errors)."""

    exit_code = 2


class RefusedError(CommitTrainError, PermanentError):
    """A deploy that the gate refuses; ``reason`` is a stable machine-readable code."""

    def __init__(self, message: str, *, reason: str, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.reason = reason


class NotFoundError(CommitTrainError, PermanentError):
    """Something named on the command line or in an event does not exist."""


class AmbiguousRefError(NotFoundError):
    """A short sha that matches more than one commit; ``candidates`` lists them."""

    def __init__(self, message: str, *, candidates: tuple[str, ...], fix: str | None = None):
        super().__init__(message, fix=fix)
        self.candidates = candidates


class GitError(CommitTrainError, PermanentError):
    """The local git repository could not answer."""


class LedgerError(CommitTrainError):
    """The deploy journal could not be read or written."""


class NotQueuedError(CommitTrainError, SurroundingsError):
    """A deploy half recorded: its deployment exists (its ``deployment`` event has fired,
    so the pipeline will run it) but its ``queued`` status could not be written. Exit code
    3, and never the advice to deploy again or ``--offline``: that would be a second
    deploy of the same request."""

    exit_code = 3

    def __init__(self, deployment_id: int, cause: str, *, fix: str | None = None) -> None:
        super().__init__(
            f"deployment {deployment_id} created; its queued status is not recorded: {cause}",
            fix=fix,
        )
        self.deployment_id = deployment_id
        self.cause = cause


class GitHubError(CommitTrainError):
    """GitHub answered with an error commit-train cannot work around."""

    def __init__(self, message: str, *, status: int | None = None, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.status = status


class AuthError(GitHubError, SurroundingsError):
    """The token is missing, wrong, or lacks a permission: the credentials, not the change."""


class GitHubRefusedError(GitHubError, PermanentError):
    """GitHub refused the request as made (409 conflict, 422 and other 4xx answers):
    sending it again unchanged gets the same answer."""


class TemporaryGitHubError(GitHubError, TemporaryError):
    """GitHub may answer later."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        delay: float | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, status=status, fix=fix)
        self.delay = delay


class RateLimitError(TemporaryGitHubError):
    """A primary or secondary rate limit whose wait is longer than we may sleep."""


class GitHubUnavailableError(TemporaryGitHubError):
    """5xx answers or no connection, after the bounded retries."""


class KubeError(CommitTrainError):
    """The Kubernetes API refused a request, or a rollout failed."""


class TemporaryKubeError(KubeError, TemporaryError, SurroundingsError):
    """The Kubernetes API may answer later; ``delay`` is its ``Retry-After``, if it sent one."""

    def __init__(self, message: str, *, fix: str | None = None, delay: float | None = None) -> None:
        super().__init__(message, fix=fix)
        self.delay = delay


class KubeUnreachableError(TemporaryKubeError):
    """No answer from the Kubernetes API (refused, timed out, unresolvable, TLS), or one
    that says it cannot serve now (429, 5xx): the cluster is unreachable."""


class KubeCredentialsError(KubeError, PermanentError, SurroundingsError):
    """No usable kubeconfig, or the cluster refused its credentials (401) or their
    permissions (403)."""


class KubeNotInstalledError(KubeError, PermanentError):
    """The change names something the cluster lacks: a kind (its CustomResourceDefinition
    is not installed) or a namespace (404)."""


class KubeInvalidError(KubeError, PermanentError):
    """The API server refused the change itself: an invalid manifest (400, 422) or a
    conflict (409)."""


class RolloutError(KubeError, PermanentError):
    """The change was applied, but its rollout failed or timed out."""


class Stopped(BaseException):
    """A signal (SIGTERM, SIGHUP, SIGINT) asked the process to stop in the middle of a run.

    A ``BaseException``, like ``KeyboardInterrupt``: it unwinds the run (the rollout wait's
    threads stop, the kube client closes) and no ``except Exception`` on the way swallows
    it. The pipeline records ``error`` "stopped by SIGTERM" within ``grace`` seconds; the
    face that installed the handler raises ``StoppedError`` in its place."""

    def __init__(self, signal_name: str, signal_number: int, *, grace: float) -> None:
        self.signal_name = signal_name
        self.signal_number = signal_number
        self.grace = grace
        super().__init__(f"stopped by {signal_name}")


class StoppedError(CommitTrainError, SurroundingsError):
    """A run stopped by a signal, as the faces report it: exit 128 + the signal's number
    (143 for SIGTERM), as a shell reports a process a signal ended."""

    def __init__(self, stopped: Stopped) -> None:
        super().__init__(str(stopped))
        self.exit_code = 128 + stopped.signal_number
