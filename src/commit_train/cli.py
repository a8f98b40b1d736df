"""The ``commit-train`` command line (placeholder until the commands land)."""

from __future__ import annotations

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="commit-train")
def cli() -> None:
    """Deploy any green commit of the default branch to any environment."""


def main() -> None:
    cli()
