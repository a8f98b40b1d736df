"""How the deploy service ships: its own Kubernetes objects are commit-train templates that
``commit-train render`` renders (the service deploys itself with commit-train), the Dockerfile
runs it as a non-root user from the tested dependency versions, and the Slack app manifest asks
for the events the bot listens to and the scopes of the methods it calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from commit_train.faces.serve import slack as slack_face

ROOT = Path(__file__).resolve().parents[1]
COMMIT_TRAIN = str(Path(sys.executable).parent / "commit-train")


def test_the_service_s_manifests_render_with_commit_train() -> None:
    done = subprocess.run(
        [COMMIT_TRAIN, "-C", str(ROOT), "render", "production", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    objects = {(o["kind"], o["name"]): o["object"] for o in json.loads(done.stdout)["objects"]}
    assert sorted(objects) == [
        ("ConfigMap", "commit-train-serve"),
        ("Deployment", "commit-train-serve"),
        ("Service", "commit-train-serve"),
    ]
    config = yaml.safe_load(objects["ConfigMap", "commit-train-serve"]["data"]["serve.yml"])
    from commit_train.faces.serve import settings

    assert settings.parse(yaml.safe_dump(config)).policy("production").confirm
    deployment = objects["Deployment", "commit-train-serve"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"].startswith("ghcr.io/commit-train/commit-train:")
    assert container["args"][:3] == ["serve", "--config", "/etc/commit-train/serve.yml"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["envFrom"] == [{"secretRef": {"name": "commit-train-serve"}}]
    assert deployment["metadata"]["namespace"] == "commit-train"


def test_the_dockerfile_runs_the_tested_versions_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert "-c actions/constraints.txt" in text
    assert re.search(r"^USER 10001$", text, re.M)
    assert 'ENTRYPOINT ["commit-train"]' in text


def test_the_slack_manifest_matches_what_the_bot_does() -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yml").read_text())
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "message.im",
    ]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    source = Path(slack_face.__file__).read_text()
    # every Web API method the bot calls, and the scope Slack's method reference names for it
    needs = {
        "chat_postMessage": "chat:write",
        "chat_update": "chat:write",
        "users_info": "users:read",
        "usergroups_list": "usergroups:read",
        "usergroups_users_list": "usergroups:read",
    }
    called = set(re.findall(r"client\.(\w+)\(", source))
    assert called == set(needs)
    assert {needs[m] for m in called} <= scopes
    assert {"app_mentions:read", "im:history", "users:read.email"} <= scopes
