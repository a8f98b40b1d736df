"""How long rendering takes: templates to manifests, with and without schema validation.

Generates a repository in a temporary folder whose templates produce N objects (a mix of
Deployments, Services, ConfigMaps and Secrets, each using values, secrets and the image),
then times ``render()`` several times and prints the best and median of each phase.

Two shapes, because Jinja's compile time grows with the template text while rendering is
cheap: ``loop`` (the default) has four templates that loop over N/4 services listed in the
values, the way a large deployment is usually written; ``files`` writes every object out by
hand, ``--per-file`` objects to a file, so N objects cost N objects' worth of compiling.

    python bench/render.py --objects 1000
    python bench/render.py --objects 1000 --shape files --per-file 10

The numbers go to docs/benchmarks.md; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from commit_train import config as config_module
from commit_train.render.templates import render

SHA = "0123456789abcdef0123456789abcdef01234567"

DEPLOYMENT = """\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  labels:
    app: web-{n}
    environment: {{{{ environment }}}}
    commit: {{{{ short_sha | quote }}}}
spec:
  replicas: {{{{ values.replicas }}}}
  selector:
    matchLabels:
      app: web-{n}
  template:
    metadata:
      labels:
        app: web-{n}
    spec:
      containers:
        - name: web
          image: {{{{ image }}}}
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: {{{{ values.resources.cpu | quote }}}}, memory: 128Mi}}
          env:
{{% for name, value in values.env.items() %}}
            - name: {{{{ name }}}}
              value: {{{{ value | quote }}}}
{{% endfor %}}
"""

SERVICE = """\
---
apiVersion: v1
kind: Service
metadata:
  name: web-{n}
spec:
  selector:
    app: web-{n}
  ports:
    - port: 80
      targetPort: 8080
"""

CONFIGMAP = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-{n}
data:
  DATABASE_HOST: {{{{ values.db.host | quote }}}}
  LOG_LEVEL: {{{{ values.log_level | quote }}}}
"""

SECRET = """\
---
apiVersion: v1
kind: Secret
metadata:
  name: web-{n}
type: Opaque
stringData:
  password: {{{{ secrets.DB_PASSWORD | quote }}}}
"""

KINDS = (DEPLOYMENT, SERVICE, CONFIGMAP, SECRET)


def make_repo(root: Path, *, objects: int, per_file: int, shape: str = "files") -> None:
    (root / ".commit-train.yml").write_text(
        "image: ghcr.io/acme/shop\n"
        "kubernetes: {namespace: shop, version: '1.30'}\n"
        "secrets: [DB_PASSWORD]\n"
        "environments: {staging: {}}\n",
        encoding="utf-8",
    )
    templates = root / "deploy" / "templates"
    values = root / "deploy" / "values"
    templates.mkdir(parents=True)
    values.mkdir(parents=True)
    (values / "defaults.yml").write_text(
        "replicas: 2\n"
        "resources: {cpu: 100m}\n"
        "db: {host: db.internal}\n"
        "log_level: info\n"
        "env: {MODE: web, WORKERS: '4'}\n",
        encoding="utf-8",
    )
    (values / "staging.yml").write_text("replicas: 1\nlog_level: debug\n", encoding="utf-8")
    if shape == "loop":
        services = [f"svc{n}" for n in range(-(-objects // len(KINDS)))]
        with (values / "defaults.yml").open("a", encoding="utf-8") as out:
            out.write(f"services: {services}\n")
        for index, kind in enumerate(KINDS):
            body = kind.format(n="{{ service }}")
            text = "{% for service in values.services %}\n" + body + "{% endfor %}\n"
            (templates / f"{index}.yaml").write_text(text, encoding="utf-8")
        return
    for start in range(0, objects, per_file):
        text = "".join(
            KINDS[n % len(KINDS)].format(n=n) for n in range(start, min(start + per_file, objects))
        )
        (templates / f"app-{start:06d}.yaml").write_text(text, encoding="utf-8")


def timed(fn: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--shape", choices=("loop", "files"), default="loop")
    parser.add_argument("--per-file", type=int, default=10, help="objects per file (files)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_repo(root, objects=args.objects, per_file=args.per_file, shape=args.shape)
        cfg = config_module.load(root).config
        env = {"DB_PASSWORD": "correct horse battery staple"}

        def run(validate: bool) -> object:
            return render(root, cfg, environment="staging", sha=SHA, env=env, validate=validate)

        # The first validating run loads the schema package and builds the validators once.
        start = time.perf_counter()
        first = run(True)
        cold = time.perf_counter() - start
        count = len(first.objects)  # type: ignore[attr-defined]

        without = timed(lambda: run(False), args.repeat)
        with_validation = timed(lambda: run(True), args.repeat)
        rendered = run(False)
        stream = timed(lambda: rendered.stream(), args.repeat)  # type: ignore[attr-defined]

    files = len(KINDS) if args.shape == "loop" else -(-args.objects // args.per_file)
    print(
        f"objects: {count} from {files} template files ({args.shape}), "
        f"best of {args.repeat} runs (median)"
    )
    for label, times in (
        ("render, no validation", without),
        ("render + schema validation", with_validation),
        ("stream() (redacted YAML)", stream),
    ):
        print(f"  {label:30s} {min(times):7.3f} s  ({statistics.median(times):.3f} s)")
    print(f"  {'first validating run (cold)':30s} {cold:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
