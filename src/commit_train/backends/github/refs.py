"""Git refs on GitHub: what locks and stale-commit marks are made of.

A lock is a ref (``refs/locks/<environment>``) pointing at a commit object that holds only
a message (who, why, until when) on git's empty tree; a reminder mark is the same. These
are the git-data calls that make them: create a ref only if it does not exist, move it as a
compare-and-swap, delete it, make the message commit, and read many refs with their
messages in one GraphQL request. ``GitHubBackend`` offers each as its own method.

GitHub now and then answers a ref write 422 "Reference update failed" (seen on
``POST /git/refs`` and ``PATCH``, github/rest-api-description#4887): the write did not
happen and the same request succeeds a moment later. Creating and moving a ref retry it,
``REF_WRITE_ATTEMPTS`` tries in all with the backend's backoff (1 s, then 2 s); after the
last one the 422 is raised. Whoever needs to know whether a failed write took effect reads
the ref back (the lock store does).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from commit_train.backends.github.mapping import ref_sha_from_rest, ref_targets
from commit_train.backends.github.queries import refs_query
from commit_train.backends.github.transport import Transport
from commit_train.errors import GitHubError, NotFoundError
from commit_train.models import RefTarget

# The tree every lock commit points at: git's empty tree (a lock commit carries no files,
# only its message). Should a GitHub ever refuse it, a one-file tree is made instead.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# Tries of a ref write answered 422 "Reference update failed" (see the module docstring).
REF_WRITE_ATTEMPTS = 3
_UPDATE_FAILED = "reference update failed"


def github_said(exc: GitHubError) -> str:
    """GitHub's own ``message`` in the answer behind ``exc`` (lower case; "" if none)."""
    data = getattr(exc.__cause__, "data", None)
    return str(data.get("message", "")).lower() if isinstance(data, dict) else ""


def full_ref(ref: str) -> str:
    """``locks/prod`` -> ``refs/locks/prod``; a name already under ``refs/`` is kept."""
    return ref if ref.startswith("refs/") else f"refs/{ref}"


class Refs:
    """The ref operations of one repository, over its ``Transport``."""

    def __init__(
        self,
        http: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 1.0,
    ) -> None:
        self._http = http
        self._sleep = sleep
        self._backoff = backoff

    def _ref_write(self, send: Callable[[], object]) -> None:
        """``send`` once, again after each 422 "Reference update failed", at most
        ``REF_WRITE_ATTEMPTS`` times in all."""
        for attempt in range(1, REF_WRITE_ATTEMPTS + 1):
            try:
                send()
                return
            except GitHubError as exc:
                if exc.status != 422 or _UPDATE_FAILED not in github_said(exc):
                    raise
                if attempt == REF_WRITE_ATTEMPTS:
                    raise
                self._sleep(self._backoff * 2 ** (attempt - 1))

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create ``ref`` at ``sha``: True if created, False if the ref already exists.

        False also after a retried POST whose first attempt did create it (GitHub then
        answers 422 "Reference already exists"): a caller that needs to know who holds the
        ref must ``get_ref`` it and compare the sha with its own.
        """
        full = full_ref(ref)
        try:
            self._ref_write(
                lambda: self._http.rest(
                    "POST",
                    self._http.path("git", "refs"),
                    action=f"create {full}",
                    body={"ref": full, "sha": sha},
                    not_found=self._http.repo_not_found,
                )
            )
        except GitHubError as exc:
            if exc.status == 422 and "already exists" in github_said(exc):
                return False
            raise
        return True

    def get_ref(self, ref: str) -> str | None:
        """The sha ``ref`` points at, or None when it does not exist."""
        full = full_ref(ref)
        try:
            _, data = self._http.rest(
                "GET",
                self._http.path("git", "ref", urllib.parse.quote(full[len("refs/") :], safe="/")),
                action=f"read {full}",
            )
        except NotFoundError:
            return None
        if isinstance(data, list):  # some GitHub versions answer a prefix match as a list
            exact = [d for d in data if d.get("ref") == full]
            return ref_sha_from_rest(exact[0]) if exact else None
        return ref_sha_from_rest(data)

    def delete_ref(self, ref: str) -> bool:
        """Delete ``ref``: True if deleted, False if it did not exist."""
        full = full_ref(ref)
        try:
            self._http.rest(
                "DELETE",
                self._http.path("git", "refs", urllib.parse.quote(full[len("refs/") :], safe="/")),
                action=f"delete {full}",
            )
        except NotFoundError:
            return False
        except GitHubError as exc:
            if exc.status == 422:
                return False
            raise
        return True

    def update_ref(self, ref: str, sha: str, *, force: bool = False) -> bool:
        """Move ``ref`` to ``sha``: True if moved, False if it does not exist or (without
        ``force``) ``sha`` does not descend from where it points now.

        Without ``force`` this is a compare-and-swap: a new commit whose parent is the
        ref's current target moves it only while the ref still points there. A 422
        "Reference update failed" is retried, then raised (it says nothing about the ref).
        """
        full = full_ref(ref)
        try:
            self._ref_write(
                lambda: self._http.rest(
                    "PATCH",
                    self._http.path(
                        "git", "refs", urllib.parse.quote(full[len("refs/") :], safe="/")
                    ),
                    action=f"move {full}",
                    body={"sha": sha, "force": force},
                )
            )
        except GitHubError as exc:
            if exc.status == 422 and _UPDATE_FAILED not in github_said(exc):
                return False
            raise
        return True

    def create_commit(self, message: str, *, parents: Sequence[str] = ()) -> str:
        """A commit object holding only ``message`` (git's empty tree); no ref moves.

        One request; two if GitHub refuses the empty tree and a one-file tree is made.
        """
        action = "create a commit object"
        body: dict[str, Any] = {"message": message, "tree": EMPTY_TREE, "parents": list(parents)}
        try:
            _, data = self._http.rest(
                "POST",
                self._http.path("git", "commits"),
                action=action,
                body=body,
                not_found=self._http.repo_not_found,
            )
        except GitHubError as exc:
            if exc.status != 422 or "tree" not in str(exc).lower():
                raise
            _, tree = self._http.rest(
                "POST",
                self._http.path("git", "trees"),
                action="create a tree",
                body={
                    "tree": [
                        {"path": "message", "mode": "100644", "type": "blob", "content": message}
                    ]
                },
            )
            body["tree"] = str(tree["sha"])
            _, data = self._http.rest(
                "POST", self._http.path("git", "commits"), action=action, body=body
            )
        return str(data["sha"])

    def read_refs(self, refs: Sequence[str]) -> dict[str, RefTarget]:
        """The refs that exist among ``refs``, each with its commit's message: one request."""
        names = [full_ref(r) for r in dict.fromkeys(refs)]
        if not names:
            return {}
        data = self._http.graphql(
            refs_query(len(names)),
            {f"ref{i}": name for i, name in enumerate(names)},
            action=f"read refs of {self._http.repo}",
        )
        return ref_targets(data["repository"], names)
