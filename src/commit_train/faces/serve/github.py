"""The dispatcher's repositories over ``backends.github.app.GitHubAccess``: a backend per
command and each repository's ``.commit-train.yml``, read from its default branch through the
contents API (a conditional request: an unchanged file answers 304 and is parsed again from
the text kept, never from a local checkout)."""

from __future__ import annotations

from commit_train import config as config_module
from commit_train.backends.github.app import GitHubAccess
from commit_train.config import Config
from commit_train.errors import NotFoundError
from commit_train.faces import wiring
from commit_train.faces.wiring import Wiring


class GitHubRepos:
    def __init__(self, access: GitHubAccess) -> None:
        self.access = access

    def wiring(self, repo: str) -> Wiring:
        """The repository's backend with a live token, and its locks and stale marks (refs
        in the repository), as the CLI wires them."""
        return wiring.github(self.access.backend(repo))

    def config(self, repo: str) -> Config:
        text = self.access.read_file(repo, config_module.CONFIG_FILE)
        if text is None:
            raise NotFoundError(
                f"I can't find {config_module.CONFIG_FILE} on the default branch of {repo} "
                "(an unknown repository, one I may not read, or one not set up for commit-train)",
                fix="check the name",
            )
        return config_module.parse(text, source=f"{repo}:{config_module.CONFIG_FILE}")
