"""``commit-train completion SHELL``: the shell script that completes commands and options.

The script is click's own (``click.shell_completion``): it calls ``commit-train`` back with
``_COMMIT_TRAIN_COMPLETE=<shell>_complete`` set, and the program answers with the commands,
options and choices that fit what was typed, so the completion never drifts from the
commands.
"""

from __future__ import annotations

import click

PROG_NAME = "commit-train"
COMPLETE_VAR = "_COMMIT_TRAIN_COMPLETE"
SHELLS = ("bash", "zsh", "fish")

INSTALL = """\
Install it once, for your shell:

\b
  bash   echo 'eval "$(commit-train completion bash)"' >> ~/.bashrc
  zsh    echo 'eval "$(commit-train completion zsh)"' >> ~/.zshrc
  fish   commit-train completion fish > ~/.config/fish/completions/commit-train.fish

then open a new shell. bash needs version 4.4 or later.
"""


@click.command("completion", epilog=INSTALL)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the script that completes commit-train's commands and options in SHELL."""
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    completer = get_completion_class(shell)
    if completer is None:  # pragma: no cover - every shell of SHELLS is click's
        raise click.UsageError(f"no completion for {shell}")
    click.echo(completer(root, {}, PROG_NAME, COMPLETE_VAR).source())
