"""Start-up cost of the command line: ``--help`` against ``import click``, and what loads.

The budget (docs/benchmarks.md): ``commit-train --help`` within 2x of ``python -c "import
click"``, and neither ``--help`` nor ``status`` imports the Kubernetes client; ``--help``
does not import PyGithub either.

    python bench/startup.py [--runs 15]

Prints a Markdown table: the median wall time of each command over the runs, and whether
each heavy client was imported (read from ``sys.modules`` in the same process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = ("kubernetes", "github", "pydantic", "jinja2")

PROBE = """
import sys, runpy
sys.argv = ["commit-train", *{args!r}]
try:
    runpy.run_module("commit_train", run_name="__main__")
except SystemExit:
    pass
print("LOADED=" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def timed(argv: list[str], runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def loaded(args: list[str], env: dict[str, str]) -> str:
    code = PROBE.format(args=args, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    line = [x for x in result.stderr.splitlines() if x.startswith("LOADED=")]
    names = line[-1].removeprefix("LOADED=") if line else "?"
    return names or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory() as scratch:
        repo = os.path.join(scratch, "repo")
        subprocess.run(
            [sys.executable, "-m", "commit_train", "demo", "--dir", repo],
            check=True,
            capture_output=True,
            env=env,
        )
        python = sys.executable
        rows = [
            ('python -c "import click"', [python, "-c", "import click"], None),
            ("commit-train --help", [python, "-m", "commit_train", "--help"], ["--help"]),
            (
                "commit-train status (local backend)",
                [python, "-m", "commit_train", "-C", repo, "status"],
                ["-C", repo, "status"],
            ),
        ]
        print(f"{'command':<40} {'median s':>9}  heavy modules imported")
        for label, argv, probe in rows:
            seconds = timed(argv, args.runs, env)
            modules = loaded(probe, env) if probe is not None else "-"
            print(f"{label:<40} {seconds:>9.3f}  {modules}")


if __name__ == "__main__":
    main()
