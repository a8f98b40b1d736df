"""The global options where hands put them, and shell completion.

Every global option works before the command and after it (``commit-train status -R
acme/shop``, the gh habit), the one after winning; the CLI talks to the GitHub emulator
through the real PyGithub and reads a real git checkout with the local journal, so each case
shows which backend answered. The completion scripts are click's, and the bash one is run
in a real bash against the installed ``commit-train``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train.errors import GitError
from commit_train.faces.cli.main import cli
from tests.gitrepos import Repo

CONFIG = "version: 1\nenvironments:\n  staging: {}\n"
PROGRAM = Path(sys.executable).with_name("commit-train")


@pytest.fixture
def world(github_emulator, tmp_path: Path):
    """acme/shop on the emulator (one deploy to staging), and a checkout whose origin is
    not on GitHub (so the local backend is the default) with commits of its own."""
    emu = github_emulator
    gh = emu.create_repo("acme/shop", default_branch="main")
    tip = gh.commit("Only on GitHub")
    gh.add_check_run(tip, name="test")
    gh.add_deployment(tip, environment="staging", statuses=["success"])
    checkout = Repo(tmp_path / "shop", config=CONFIG)
    checkout.commit("Only in the checkout")
    checkout.git("remote", "add", "origin", "https://git.example.com/local/shop.git")
    (tmp_path / "elsewhere").mkdir()
    return emu, checkout, tmp_path


def invoke(world, args: list[str], **env: str | None) -> Result:
    emu, _checkout, _tmp = world
    environ: dict[str, str | None] = {
        "GITHUB_API_URL": emu.base_url,
        "GITHUB_TOKEN": emu.token,
        "GH_TOKEN": None,
        "COMMIT_TRAIN_BACKEND": None,
        "GITHUB_ACTOR": "carol",
        "NO_COLOR": None,
        **env,
    }
    return CliRunner().invoke(cli, args, env=environ, prog_name="commit-train")


def answered_by(command: str, result: Result) -> str:
    """Which backend answered: GitHub (the emulator's commit, its deploy) or the journal."""
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    if command == "status":
        title = doc["commits"][0]["title"]
        return {"Only on GitHub": "github", "Only in the checkout": "local"}[title]
    (staging,) = doc["environments"]
    return "github" if staging["deployments"] else "local"


# (case, options before any command that the case needs, the option itself, environment,
#  backend that answers with the option, what happens without it)
CASES = [
    ("-C", [], ["-C", "{checkout}"], {}, "local", "not inside a git repository"),
    ("--repo", ["-C", "{checkout}"], ["--repo", "acme/shop"], {}, "github", "local"),
    ("-R", ["-C", "{checkout}"], ["-R", "acme/shop"], {}, "github", "local"),
    (
        "--token",
        ["-C", "{checkout}", "-R", "acme/shop"],
        ["--token", "{token}"],
        {"GITHUB_TOKEN": "ghp_not_a_real_token"},
        "github",
        "token",
    ),
    (
        "--backend",
        ["-C", "{checkout}"],
        ["--backend", "local"],
        {"COMMIT_TRAIN_BACKEND": "github"},
        "local",
        "repository local/shop not found",
    ),
]


def fill(args: list[str], world) -> list[str]:
    emu, checkout, tmp = world
    values = {"checkout": str(checkout.root), "token": emu.token, "tmp": str(tmp)}
    return [a.format(**values) for a in args]


@pytest.mark.parametrize("command", ["status", "history"])
@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize(
    ("case", "base", "option", "env", "answers", "without"), CASES, ids=[c[0] for c in CASES]
)
def test_every_global_option_before_or_after_the_command(
    world, monkeypatch, command, where, case, base, option, env, answers, without
) -> None:
    monkeypatch.chdir(world[2] / "elsewhere")  # not a repository: -C must do its job
    base, option = fill(base, world), fill(option, world)
    args = [*base, *option, command, "--json"]
    if where == "after":
        args = [*base, command, "--json", *option]

    assert answered_by(command, invoke(world, args, **env)) == answers

    # and without the option something else happens, so the case has teeth
    plain = invoke(world, [*base, command, "--json"], **env)
    if without in ("local", "github"):
        assert answered_by(command, plain) == without
    else:
        assert plain.exit_code == 1
        assert without in plain.stderr


@pytest.mark.parametrize("command", ["status", "history"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_lets_the_error_through(
    world, command: str, where: str
) -> None:
    elsewhere = ["-C", str(world[2] / "elsewhere")]
    args = (
        [*elsewhere, "--debug", command] if where == "before" else [*elsewhere, command, "--debug"]
    )
    debugged = invoke(world, args)
    assert isinstance(debugged.exception, GitError)  # raised, for its traceback
    assert "error:" not in debugged.stderr
    plain = invoke(world, [*elsewhere, command])
    assert plain.exit_code == 1
    assert plain.stderr.startswith("error: ")
    assert isinstance(plain.exception, SystemExit)


def test_the_option_after_the_command_wins(world) -> None:
    emu, checkout, _tmp = world
    root = ["-C", str(checkout.root)]
    repo = invoke(world, [*root, "-R", "acme/nowhere", "status", "--json", "-R", "acme/shop"])
    assert json.loads(repo.stdout)["repo"] == "acme/shop"
    token = invoke(
        world,
        [*root, "-R", "acme/shop", "--token", "bad", "status", "--json", "--token", emu.token],
    )
    assert answered_by("status", token) == "github"
    folder = invoke(world, ["-C", str(world[2] / "elsewhere"), "status", "-C", str(checkout.root)])
    assert folder.exit_code == 0, folder.output


def test_a_token_given_after_the_command_is_never_printed(world) -> None:
    done = invoke(world, ["status", "-R", "acme/shop", "--token", "ghp_secret_value_123456"])
    assert done.exit_code == 1
    assert "ghp_secret_value_123456" not in done.output


def test_every_command_takes_them_and_says_so_in_its_help() -> None:
    """Every command of one repository takes them all; ``serve`` (a whole organisation's)
    and ``completion`` (no repository at all) take only ``--debug``."""
    repository_options = ("-R, --repo OWNER/NAME", "--token", "--backend", "-C PATH")
    for name in cli.list_commands(None):  # type: ignore[arg-type]
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        if command is None or name == "action":
            continue
        shown = CliRunner().invoke(cli, [name, "--help"]).stdout
        assert "--debug" in shown, name
        for text in repository_options:
            assert (text in shown) == (name not in ("serve", "completion")), (name, text)


# -- completion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _commit_train_completion commit-train"),
        ("zsh", "#compdef commit-train"),
        ("fish", "complete --no-files --command commit-train"),
    ],
)
def test_completion_prints_the_script_of_each_shell(shell: str, marker: str) -> None:
    done = CliRunner().invoke(cli, ["completion", shell], prog_name="commit-train")
    assert done.exit_code == 0, done.output
    assert marker in done.stdout
    assert "_COMMIT_TRAIN_COMPLETE" in done.stdout


def test_completion_help_says_how_to_install_it() -> None:
    shown = CliRunner().invoke(cli, ["completion", "--help"], prog_name="commit-train").stdout
    assert "echo 'eval \"$(commit-train completion bash)\"' >> ~/.bashrc" in shown
    assert "commit-train completion fish > ~/.config/fish/completions/commit-train.fish" in shown
    bad = CliRunner().invoke(cli, ["completion", "tcsh"], prog_name="commit-train")
    assert bad.exit_code == 2


def complete(shell: str, words: str) -> list[str]:
    """What the installed commit-train answers each shell's completion script with: the
    offered words. bash and zsh send the index of the word being completed, fish the word."""
    incomplete = "" if words.endswith(" ") else words.split()[-1]
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {
        **os.environ,
        "_COMMIT_TRAIN_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": incomplete if shell == "fish" else str(cword),
    }
    done = subprocess.run([str(PROGRAM)], capture_output=True, text=True, env=env, check=True)
    lines = done.stdout.splitlines()
    if shell == "zsh":  # type, value, help: three lines each
        return lines[1::3]
    return [line.split("\t")[0].split(",", 1)[1] for line in lines]  # type,value[<tab>help]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completing_st_offers_status_stale_and_stats(shell: str) -> None:
    assert complete(shell, "commit-train st") == ["stale", "stats", "status"]
    # the global options complete after a command too
    assert complete(shell, "commit-train status --re") == ["--repo"]
    assert complete(shell, "commit-train completion ") == ["bash", "zsh", "fish"]


def test_the_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    script = (
        'eval "$(commit-train completion bash)"\n'
        "COMP_WORDS=(commit-train st); COMP_CWORD=1\n"
        "_commit_train_completion commit-train st commit-train\n"  # as bash calls it
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{PROGRAM.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stale", "stats", "status"]
