"""What a person typed to the bot, as a ``Command``: pure parsing, no Slack and no GitHub.

The grammar (words split on whitespace; the bot's own mention is dropped first)::

    status {repo} [limit]
    deploy {repo} {env} {sha|HEAD} [again]    again: even if already queued or live there
    history {repo} [env]
    lock {repo} {env} {reason...} [ttl]      ttl: a duration with a unit (30m, 2h, 1d)
    unlock {repo} {env}
    locks {repo}
    rollback {repo} {env}
    stale [repo]
    help

Anything else, or a command with the wrong words, is ``help`` with ``problem`` saying what
was wrong: the bot answers with the help, never with silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_DURATION = re.compile(r"^\d+[smhdw]$")
_LIMIT = re.compile(r"^\d{1,3}$")

USAGE: dict[str, str] = {
    "status": "status {repo} [limit]",
    "deploy": "deploy {repo} {env} {sha|HEAD} [again]",
    "history": "history {repo} [env]",
    "lock": "lock {repo} {env} {reason...} [ttl]",
    "unlock": "unlock {repo} {env}",
    "locks": "locks {repo}",
    "rollback": "rollback {repo} {env}",
    "stale": "stale [repo]",
    "help": "help",
}
WRITES = frozenset({"deploy", "lock", "unlock", "rollback"})


@dataclass(frozen=True)
class Command:
    name: str
    repo: str | None = None
    environment: str | None = None
    ref: str | None = None
    limit: int | None = None
    reason: str = ""
    ttl: str | None = None
    again: bool = False  # deploy even a commit already queued or live there
    problem: str | None = None  # set on ``help`` when the text was not understood

    @property
    def writes(self) -> bool:
        return self.name in WRITES


def _help(problem: str | None) -> Command:
    return Command("help", problem=problem)


def _wrong(name: str) -> Command:
    return _help(f"{name} is written `{USAGE[name]}`")


def _unlink(word: str) -> str:
    """Slack turns some words into links (``<http://x|x>``, ``<mailto:...>``): keep the
    text a person typed."""
    if word.startswith("<") and word.endswith(">"):
        inner = word[1:-1]
        return inner.split("|", 1)[1] if "|" in inner else inner
    return word


def parse(text: str) -> Command:
    """The command in ``text`` (a mention's or a direct message's text)."""
    words = [_unlink(w) for w in _MENTION.sub(" ", text or "").split()]
    if not words:
        return _help(None)
    name, args = words[0].lower(), words[1:]
    if name in ("help", "?"):
        return _help(None)
    if name == "status":
        if len(args) == 1:
            return Command(name, repo=args[0])
        if len(args) == 2 and _LIMIT.match(args[1]):
            return Command(name, repo=args[0], limit=int(args[1]))
        return _wrong(name)
    if name == "deploy":
        if len(args) == 3 or (len(args) == 4 and args[3].lower() == "again"):
            return Command(
                name, repo=args[0], environment=args[1], ref=args[2], again=len(args) == 4
            )
        return _wrong(name)
    if name == "history":
        if len(args) in (1, 2):
            return Command(name, repo=args[0], environment=args[1] if len(args) == 2 else None)
        return _wrong(name)
    if name == "lock":
        if len(args) < 3:
            return _wrong(name)
        rest = args[2:]
        ttl = None
        if len(rest) > 1 and _DURATION.match(rest[-1]):
            ttl, rest = rest[-1], rest[:-1]
        return Command(name, repo=args[0], environment=args[1], reason=" ".join(rest), ttl=ttl)
    if name in ("unlock", "rollback"):
        if len(args) == 2:
            return Command(name, repo=args[0], environment=args[1])
        return _wrong(name)
    if name == "locks":
        if len(args) == 1:
            return Command(name, repo=args[0])
        return _wrong(name)
    if name == "stale":
        if len(args) <= 1:
            return Command(name, repo=args[0] if args else None)
        return _wrong(name)
    return _help(f"I don't know the command {words[0]!r}")
