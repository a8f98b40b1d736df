"""Release commit-train, and keep every reference to its actions on one name and one ref.

The version is written in one place, ``__version__`` in ``src/commit_train/__init__.py``
(``pyproject.toml`` reads it). The workflow templates, the README and the docs refer to the
actions as ``commit-train/commit-train/actions/<name>`` (the root action:
``commit-train/commit-train``) pinned by the full sha of a release commit, with the version as
a comment on every ``uses:`` line, like any third-party action. A sha cannot be moved; a tag
can. The release makes the pin true (docs/release.md):

    python scripts/release.py release 0.2.0  # bump, changelog, commit R; pin R, commit P; tag P
    python scripts/release.py pin SHA        # rewrite every reference to SHA # v<version>
    python scripts/release.py check          # what disagrees (tests/test_release.py runs it)

The tag ``v<version>`` is on P, the commit after R that only rewrites the pins, so the
templates at the tag name the commit R whose code is the tag's code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "commit-train/commit-train"
REPO_URL = "https://github.com/commit-train/commit-train"
VERSION_FILE = Path("src/commit_train/__init__.py")
VERSION_LINE = re.compile(r'^__version__ = "(?P<version>[^"]+)"$', re.M)
SEMVER = re.compile(r"\d+\.\d+\.\d+")
SHA = re.compile(r"[0-9a-f]{40}")
# Any mention of one of our actions with a ref: owner/commit-train[/actions/x]@ref [# vX.Y.Z]
REFERENCE = re.compile(
    r"(?P<name>[\w.-]+/commit-train(?:/actions/[\w<>-]+)?)@(?P<ref>[\w.<>-]+)"
    r"(?P<comment>[ \t]+#[ \t]*v\S*)?"
)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*\S+@")
# The workflow templates `commit-train init` writes, shipped in the package; the same files
# as workflow-templates/ (tests/test_init.py), so a release pins both.
PACKAGED_WORKFLOWS = Path("src/commit_train/faces/cli/scaffold/workflows")
# The code a pinned commit runs: what must not differ between the pin and the release tag
# (the packaged templates differ by the pins the release writes, and run nothing).
CODE = (
    "src",
    "actions",
    "action.yml",
    "pyproject.toml",
    f":(exclude){PACKAGED_WORKFLOWS.as_posix()}",
)


@dataclass(frozen=True)
class Reference:
    path: Path
    line: int
    name: str
    ref: str
    comment: str | None  # "v1.2.3", or None when the mention carries no comment
    uses: bool  # a uses: line (in a template, or a YAML example in the docs)

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def files(root: Path) -> list[Path]:
    """Where our actions are referred to: templates (both copies), README and docs (not
    the changelog)."""
    found = [root / "README.md", *sorted((root / "workflow-templates").glob("*.yml"))]
    found += sorted((root / PACKAGED_WORKFLOWS).glob("*.yml"))
    found += sorted((root / "docs").rglob("*.md"))
    return [p for p in found if p.is_file()]


def references(root: Path) -> Iterator[Reference]:
    for path in files(root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in REFERENCE.finditer(line):
                comment = match["comment"]
                yield Reference(
                    path,
                    number,
                    match["name"],
                    match["ref"],
                    comment.split("#", 1)[1].strip() if comment else None,
                    bool(USES_LINE.match(line)),
                )


def version(root: Path = ROOT) -> str:
    match = VERSION_LINE.search((root / VERSION_FILE).read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"error: no __version__ line in {VERSION_FILE}")
    return match["version"]


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=check
    )


def in_history(root: Path) -> bool:
    """Whether ``root`` is a git checkout with its whole history (not a shallow clone)."""
    done = git(root, "rev-parse", "--is-shallow-repository", check=False)
    return done.returncode == 0 and done.stdout.strip() == "false"


def tag_exists(root: Path, tag: str) -> bool:
    return git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0


def check(root: Path = ROOT) -> list[str]:
    """Every way the references disagree, one line each naming the file and the fix."""
    problems: list[str] = []
    current = version(root)
    if not SEMVER.fullmatch(current):
        problems.append(f"{VERSION_FILE}: version {current!r} is not X.Y.Z")
    found = list(references(root))
    if not found:
        return [*problems, "no reference to the commit-train actions found"]
    pins = {r.ref for r in found}
    pin = max(pins, key=lambda ref: sum(r.ref == ref for r in found))
    fix = "run: python scripts/release.py pin SHA"
    for ref in found:
        at = ref.where(root)
        if ref.name != NAME and not ref.name.startswith(f"{NAME}/actions/"):
            problems.append(f"{at}: {ref.name} is not {NAME}[/actions/<name>]")
        action = ref.name.rpartition("/actions/")[2] if "/actions/" in ref.name else None
        if (
            action
            and action != "<name>"
            and not (root / "actions" / action / "action.yml").is_file()
        ):
            problems.append(f"{at}: there is no action {action!r} (actions/{action}/action.yml)")
        if not SHA.fullmatch(ref.ref):
            problems.append(f"{at}: {ref.name}@{ref.ref} is not pinned by a full commit sha; {fix}")
        elif ref.ref != pin:
            problems.append(f"{at}: pinned to {ref.ref}, everything else to {pin}; {fix}")
        if ref.uses and ref.comment is None:
            problems.append(f"{at}: a uses: line needs the version as a comment (# v{current})")
        if ref.comment is not None and ref.comment != f"v{current}":
            problems.append(f"{at}: says {ref.comment}, the version is {current}; {fix}")
    if problems or not in_history(root):
        return problems
    if git(root, "cat-file", "-e", f"{pin}^{{commit}}", check=False).returncode != 0:
        problems.append(f"the pinned commit {pin} is not in this repository's history; {fix}")
    elif tag_exists(root, f"v{current}"):
        same = git(root, "diff", "--quiet", pin, f"v{current}", "--", *CODE, check=False)
        if same.returncode != 0:
            problems.append(
                f"the pinned commit {pin[:12]} runs other code than the tag v{current} "
                f"({', '.join(CODE[:-1])} differ); {fix} with the tag's release commit"
            )
    return problems


def pin(root: Path, sha: str, release: str) -> list[Path]:
    """Rewrite every reference to ``NAME...@sha``, with ``# v<release>`` on uses: lines."""
    changed: list[Path] = []

    def rewrite(line: str) -> str:
        uses = bool(USES_LINE.match(line))

        def one(match: re.Match[str]) -> str:
            name = match["name"]
            action = name.partition("/commit-train")[2]  # "" or "/actions/x"
            comment = f" # v{release}" if uses or match["comment"] else ""
            return f"{NAME}{action}@{sha}{comment}"

        return REFERENCE.sub(one, line)

    for path in files(root):
        text = path.read_text(encoding="utf-8")
        new = "".join(rewrite(line) for line in text.splitlines(keepends=True))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    docs = subprocess.run(
        [sys.executable, str(root / "scripts" / "gen_action_docs.py")], cwd=root, check=False
    )
    if docs.returncode != 0:
        raise SystemExit("error: scripts/gen_action_docs.py failed")
    return changed


def bump(root: Path, new: str, today: dt.date) -> None:
    """Write the version and move the changelog's Unreleased notes under it."""
    path = root / VERSION_FILE
    text = path.read_text(encoding="utf-8")
    path.write_text(VERSION_LINE.sub(f'__version__ = "{new}"', text, count=1), encoding="utf-8")
    changelog = root / "CHANGELOG.md"
    log = changelog.read_text(encoding="utf-8")
    head, sep, rest = log.partition("## [Unreleased]\n")
    notes = rest.split("\n## [", 1)[0]
    if not sep or not re.search(r"^- ", notes, re.M):
        raise SystemExit(
            "error: CHANGELOG.md has no notes under ## [Unreleased]; write what changed first"
        )
    rest = rest.replace(notes, f"\n## [{new}] - {today.isoformat()}\n{notes}", 1)
    log = head + sep + rest
    previous = [t for t in re.findall(r"^\[(\d+\.\d+\.\d+)\]: ", log, re.M)]
    link = (
        f"[{new}]: {REPO_URL}/compare/v{previous[0]}...v{new}"
        if previous
        else f"[{new}]: {REPO_URL}/releases/tag/v{new}"
    )
    log = re.sub(
        r"^\[Unreleased\]: .*$",
        f"[Unreleased]: {REPO_URL}/compare/v{new}...HEAD\n{link}",
        log,
        count=1,
        flags=re.M,
    )
    changelog.write_text(log, encoding="utf-8")


def as_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def release(root: Path, new: str, today: dt.date) -> str:
    if not SEMVER.fullmatch(new):
        raise SystemExit(f"error: {new!r} is not a version X.Y.Z")
    if git(root, "status", "--porcelain").stdout.strip():
        raise SystemExit("error: the working tree has changes; commit or stash them first")
    if tag_exists(root, f"v{new}"):
        raise SystemExit(f"error: v{new} is already tagged; pick the next version")
    current = version(root)
    first = as_tuple(new) == as_tuple(current) and not tag_exists(root, f"v{current}")
    if as_tuple(new) <= as_tuple(current) and not first:
        raise SystemExit(f"error: {new} is not after the current version {current}")
    bump(root, new, today)
    git(root, "commit", "-q", "-am", f"Release {new}")
    code = git(root, "rev-parse", "HEAD").stdout.strip()
    pin(root, code, new)
    git(root, "commit", "-q", "-am", f"Pin the templates and docs to {new} ({code[:12]})")
    git(root, "tag", "-a", f"v{new}", "-m", f"commit-train {new}")
    problems = check(root)
    if problems:
        raise SystemExit("error: after the release:\n" + "\n".join(problems))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="list every reference that disagrees; exit 1 if any")
    pin_cmd = sub.add_parser("pin", help="rewrite every reference to one commit")
    pin_cmd.add_argument("sha", help="the full sha of the release commit")
    release_cmd = sub.add_parser("release", help="bump, changelog, commit, pin, commit, tag")
    release_cmd.add_argument("version", help="the new version, X.Y.Z")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check(ROOT)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    if args.command == "pin":
        if not SHA.fullmatch(args.sha):
            print(f"error: {args.sha!r} is not a full 40-hex commit sha", file=sys.stderr)
            return 2
        for path in pin(ROOT, args.sha, version(ROOT)):
            print(f"{path.relative_to(ROOT)}: pinned")
        return 0
    code = release(ROOT, args.version, dt.date.today())
    print(f"tagged v{args.version}; the templates pin {code}")
    print(f"publish: git push origin HEAD v{args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
