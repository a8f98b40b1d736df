"""Server-side apply and rollout detection, measured against the Kubernetes emulator.

Prints a Markdown table with, for 50, 200 and 500 objects (a Namespace plus ConfigMaps,
Services, Deployments and Secrets in equal parts):

- the first apply (everything created), the same apply again (everything unchanged) and a
  dry run: wall time and the requests the emulator answered;
- the first apply with one worker instead of the bounded pool, to show what the pool buys;

then the rollout detection latency: the time from the emulator finishing a Deployment's
rollout (the status write) to ``wait_for_rollouts`` returning, over several runs.

    python bench/kube_apply.py
    python bench/kube_apply.py --sizes 50 200 --runs 20 --concurrency 8

Counts come from the emulator; nothing here asserts a time. The emulator is a Python HTTP
server on the same two cores as the client, so times are an upper bound on client overhead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.kube import KubeEmulator

from commit_train.kube.apply import ApplyOptions, apply, deploy_annotations
from commit_train.kube.wait import wait_for_rollouts

NS = "bench"
NOTES = deploy_annotations(sha="0" * 40, deployment_id=1, run_url=None)


def objects(count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    ]
    for i in range(count):
        name = f"obj-{i:04d}"
        kind = i % 4
        if kind == 0:
            found.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name},
                    "data": {"key": name},
                }
            )
        elif kind == 1:
            found.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
                }
            )
        elif kind == 2:
            found.append(deployment(name))
        else:
            found.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name},
                    "stringData": {"token": name},
                }
            )
    return found


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


def timed_apply(emu: KubeEmulator, api: Any, objs: list[dict[str, Any]], **kw: Any) -> tuple:
    emu.reset_requests()
    start = time.perf_counter()
    result = apply(api, objs, ApplyOptions(applyset="bench", namespace=NS, annotations=NOTES, **kw))
    return time.perf_counter() - start, emu.request_count, result


def apply_rows(sizes: list[int], concurrency: int) -> list[str]:
    rows = []
    for size in sizes:
        objs = objects(size)
        with KubeEmulator() as emu:
            api = emu.api_client()
            api.configuration.connection_pool_maxsize = concurrency + 4
            t1, n1, r1 = timed_apply(emu, api, objs, concurrency=concurrency)
            t2, n2, r2 = timed_apply(emu, api, objs, concurrency=concurrency)
            t3, n3, _ = timed_apply(emu, api, objs, concurrency=concurrency, dry_run=True)
            api.close()
        with KubeEmulator() as emu:
            api = emu.api_client()
            t4, n4, _ = timed_apply(emu, api, objs, concurrency=1)
            api.close()
        if r1.counts["created"] != size + 1 or r2.counts["unchanged"] != size + 1:
            raise SystemExit(f"unexpected counts: {r1.counts} then {r2.counts}")
        rows.append(
            f"| {size + 1} | {t1:.2f} s / {n1} | {t2:.2f} s / {n2} | {t3:.2f} s / {n3} "
            f"| {t4:.2f} s / {n4} | {(size + 1) / t1:.0f} |"
        )
    return rows


def detection_latency(runs: int) -> list[float]:
    """Seconds from the emulator's completing status write to the waiter's return."""
    samples = []
    with KubeEmulator() as emu:
        api = emu.api_client()
        for run in range(runs):
            name = f"web-{run}"
            result = apply(
                api,
                [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
                    deployment(name),
                ],
                ApplyOptions(
                    applyset=f"latency-{run}", namespace=NS, annotations=NOTES, prune=False
                ),
            )
            listed = threading.Event()
            finished: list[float] = []

            def target(
                refs: Any = result.workloads,
                listed: threading.Event = listed,
                finished: list[float] = finished,
            ) -> None:
                wait_for_rollouts(api, refs, timeout=60, on_progress=lambda _l: listed.set())
                finished.append(time.perf_counter())

            thread = threading.Thread(target=target)
            thread.start()
            listed.wait(30)
            time.sleep(0.05)  # let the watch request settle, as it would in a real deploy
            start = time.perf_counter()
            emu.controller.complete("Deployment", NS, name)
            thread.join(30)
            samples.append(finished[0] - start)
        api.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    print(f"## Server-side apply (pool of {args.concurrency}; time / requests)\n")
    print(
        "| objects | first apply (created) | again (unchanged) | dry run | first apply, "
        "1 worker | objects/s (first) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in apply_rows(args.sizes, args.concurrency):
        print(row)

    samples = detection_latency(args.runs)
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"\n## Rollout detection latency ({len(samples)} runs)\n")
    print("| median | p95 | max |")
    print("| ---: | ---: | ---: |")
    print(
        f"| {statistics.median(samples) * 1000:.1f} ms | {p95 * 1000:.1f} ms "
        f"| {max(samples) * 1000:.1f} ms |"
    )


if __name__ == "__main__":
    main()
