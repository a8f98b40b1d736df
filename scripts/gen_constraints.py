"""Write ``actions/constraints.txt``: the exact versions of commit-train's runtime
dependencies (and theirs) installed here, where the test suite runs.

    python scripts/gen_constraints.py

``actions/install.sh`` installs with ``-c actions/constraints.txt``, so an action installs
the versions the tests ran with, not whatever the open ranges in ``pyproject.toml`` resolve
to on the day of a deploy (``backends/github/transport.py`` relies on PyGithub internals).
Test-only packages are left out; so are requirements behind an extra. Run it after upgrading
the virtualenv; ``tests/test_constraints.py`` fails when the two disagree.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "actions" / "constraints.txt"
HEADER = """\
# The exact versions of commit-train's runtime dependencies the test suite ran with.
# actions/install.sh installs with -c this file. Written by scripts/gen_constraints.py.
"""


def runtime_roots() -> list[str]:
    """``[project] dependencies`` of ``pyproject.toml`` (the installed metadata of an
    editable install may be older than the file)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def runtime_closure(roots: list[str]) -> dict[str, str]:
    """Every distribution the requirements ``roots`` need at run time, installed here:
    name -> version.

    A requirement's extras are followed (``pyjwt[crypto]`` brings ``cryptography``), other
    extras are not; markers other than ``extra`` are read for this interpreter. A
    dependency that is not installed here cannot be pinned and is left out."""
    seen: dict[str, str] = {}
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(line) for line in roots]
    while todo:
        req = todo.pop()
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        key = canonicalize_name(dist.metadata["Name"])
        if (key, frozenset(req.extras)) in visited:
            continue
        visited.add((key, frozenset(req.extras)))
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None:
                wanted = key not in seen
            elif "extra" in str(sub.marker):
                wanted = any(sub.marker.evaluate({"extra": e}) for e in req.extras)
            else:
                wanted = key not in seen and sub.marker.evaluate()
            if wanted:
                todo.append(sub)
        seen[key] = dist.version
    return dict(sorted(seen.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def read(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def main() -> None:
    text = render(runtime_closure(runtime_roots()))
    if "--check" in sys.argv[1:]:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        sys.exit(0 if current == text else f"{OUT.name} is out of date: run {__file__}")
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(re.findall('==', text))} pins")


if __name__ == "__main__":
    main()
