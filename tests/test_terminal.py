"""Tables on a real terminal: display width of CJK and emoji, and lines cut to the window.

``COLUMNS`` is the seam (as shutil and click honour it): set, the tables fit that many
columns; unset and not a terminal (CliRunner's pipe), they keep their fixed widths.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from commit_train.backends.local.backend import LocalBackend
from commit_train.core.text import fit, plural, width
from commit_train.faces.terminal import CLEAR_LINE, LiveLines, columns
from commit_train.models import DeployState, possessive
from tests.gitrepos import Repo
from tests.test_cli import run

CONFIG = """\
version: 1
environments:
  staging:
    stale-after: 1h
  production-eu-west-with-a-long-name:
    production: true
    stale-after: 1h
"""

LONG = (
    "Move the checkout service onto the new payments gateway and retire the old one "
    "after the migration window closes"
)
CJK = "決済サービスを新しいゲートウェイに移行して古いゲートウェイを廃止する"
EMOJI = "🚀 Ship the new search page 🎉 with faster 🔍 results for everyone 👩‍💻"


@pytest.fixture
def shop(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "shop", config=CONFIG)
    for title, author in ((LONG, "alice"), (CJK, "bob"), (EMOJI, "carol-the-release-manager")):
        repo.commit(title, author=author)
        assert run(repo.root, "record-check", "HEAD", "test", "success").exit_code == 0
        assert run(repo.root, "record-check", "HEAD", "lint", "success").exit_code == 0
    for env in ("staging", "production-eu-west-with-a-long-name"):
        assert run(repo.root, "deploy", env, "HEAD~2").exit_code == 0
    backend = LocalBackend(repo.root)
    [first] = backend.deployments(environment="staging", limit=1)
    backend.add_status(first.id, state=DeployState.SUCCESS)  # live: the other two are stale
    assert run(repo.root, "deploy", "staging", "HEAD").exit_code == 0
    locked = run(
        repo.root,
        "lock",
        "production-eu-west-with-a-long-name",
        "--reason",
        "the database migration of the orders table runs until the evening, do not deploy",
    )
    assert locked.exit_code == 0, locked.output
    return repo


COMMANDS = [
    ["status"],
    ["history"],
    ["locks"],
    ["stale", "--dry-run", "staging"],
    ["stale", "--dry-run"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_line_is_wider_than_an_80_column_terminal(shop: Repo, args: list[str]) -> None:
    piped = run(shop.root, *args)
    fitted = run(shop.root, *args, env={"COLUMNS": "80"})
    assert piped.exit_code == fitted.exit_code == 0, fitted.output
    assert max(width(line) for line in fitted.stdout.splitlines()) <= 80, fitted.stdout
    if args[0] == "stale":  # a heading too wide goes on two lines; authors stay indented
        assert "not deployed (live " in fitted.stdout
        assert "\n  would remind 2 now\n  carol-the-release-manager\n" in fitted.stdout
    if args != ["stale", "--dry-run"]:
        assert max(width(line) for line in piped.stdout.splitlines()) > 80, piped.stdout


def test_a_wide_terminal_shows_whole_titles_and_a_pipe_keeps_its_fixed_width(shop: Repo) -> None:
    wide = run(shop.root, "status", env={"COLUMNS": "300"})
    assert LONG in wide.stdout
    piped = run(shop.root, "status")
    assert LONG not in piped.stdout
    assert "Move the checkout service onto the new payments…" in piped.stdout


def test_cut_titles_keep_the_columns_aligned_and_json_keeps_the_whole_title(shop: Repo) -> None:
    shown = run(shop.root, "status", env={"COLUMNS": "80"}).stdout.splitlines()
    rows = shown[3:]
    # every row's AUTHOR column starts at the same display column, CJK and emoji included
    header = shown[2]
    author_at = header.index("AUTHOR")
    for row, author in zip(rows, ("carol-the-release-manager", "bob", "alice"), strict=True):
        before = row.split(author)[0]
        assert width(before) == author_at, (row, header)
    assert any("…" in row for row in rows)
    document = json.loads(run(shop.root, "status", "--json", env={"COLUMNS": "80"}).stdout)
    assert [c["title"] for c in document["commits"]] == [EMOJI, CJK, LONG]


def test_history_cuts_the_title_and_locks_the_reason(shop: Repo) -> None:
    history = run(shop.root, "history", "staging", env={"COLUMNS": "80"}).stdout.splitlines()
    assert history[1].split() == [
        "ID",
        "RESULT",
        "COMMIT",
        "TITLE",
        "BY",
        "STARTED",
        "(UTC)",
        "DURATION",
    ]
    assert all(width(line) <= 80 for line in history)
    locks = run(shop.root, "locks", env={"COLUMNS": "80"}).stdout.splitlines()
    assert locks[1].startswith("production-eu-west-with-a-long-name  carol")
    assert locks[1].endswith("…")
    whole = json.loads(run(shop.root, "locks", "--json", env={"COLUMNS": "80"}).stdout)
    assert whole["locks"][0]["reason"].endswith("do not deploy")


@pytest.mark.parametrize(
    ("text", "columns"),
    [("日本語のタイトル", 8), ("👍👍👍👍", 5), ("abc def ghi", 100), ("e\u0301" * 10, 4)],
)
def test_display_width_and_fit(text: str, columns: int) -> None:
    assert width("日本語") == 6
    assert width("👍") == 2
    assert width("👩‍💻") == 2  # one emoji made of three code points
    assert width("e\u0301") == 1  # a combining accent takes no column
    cut = fit(text, columns)
    assert width(cut) <= columns
    assert cut == text or cut.endswith("…")


def test_counts_and_names() -> None:
    assert plural(1, "commit") == "1 commit"
    assert plural(0, "commit") == "0 commits"
    assert plural(2, "entry", "entries") == "2 entries"
    assert possessive("alice") == "alice's"
    assert possessive("maintainers") == "maintainers'"


def test_columns_come_from_the_environment_then_the_terminal() -> None:
    pipe = io.StringIO()
    assert columns(pipe, {}) is None
    assert columns(pipe, {"COLUMNS": "80"}) == 80
    assert columns(pipe, {"COLUMNS": "wide"}) is None
    assert columns(pipe, {"COLUMNS": "0"}) is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_lines_replace_each_other_on_a_terminal_only() -> None:
    screen = _Terminal()
    live = LiveLines(screen, environ={"COLUMNS": "40"})
    live.line("deployment/shop: configured")
    live.progress('Waiting for deployment "shop" rollout to finish: 0 of 3 updated replicas')
    live.progress('Waiting for deployment "shop" rollout to finish: 1 of 3 updated replicas')
    live.line("rollout complete")
    assert screen.getvalue() == (
        "deployment/shop: configured\n"
        f'{CLEAR_LINE}Waiting for deployment "shop" rollout…'
        f'{CLEAR_LINE}Waiting for deployment "shop" rollout…\n'
        "rollout complete\n"
    )
    pipe = io.StringIO()
    plain = LiveLines(pipe, environ={"COLUMNS": "40"})
    plain.progress("0 of 3 updated replicas")
    plain.progress("1 of 3 updated replicas")
    assert pipe.getvalue() == "0 of 3 updated replicas\n1 of 3 updated replicas\n"
