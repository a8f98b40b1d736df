"""commit-train: deploy any green commit of the default branch to any environment.

Importing this package is cheap on purpose: the Kubernetes client and PyGithub are imported
where they are used, so ``commit-train --help`` starts fast.
"""

# The one place the version is written: pyproject.toml reads it (dynamic), scripts/release.py
# changes it, and the release tag is v<this>.
__version__ = "0.1.0"
