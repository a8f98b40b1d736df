"""The whole way round: a mention in Slack, a deployment recorded for the requester, the deploy
workflow (``workflow-templates/deploy.yml``, played as the runner plays it against the GitHub
and Kubernetes emulators), its statuses back through the signed webhook, and the deploy's one
message in the channel edited to success."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from commit_train.faces.serve import settings
from commit_train.faces.serve.slack import build
from tests.emulators.slack import SlackEmulator
from tests.leaks import decoded, leaked
from tests.shop import CONFIG
from tests.test_deploy_workflow_e2e import SECRET as API_KEY
from tests.test_deploy_workflow_e2e import Shop, shop  # noqa: F401 (the fixture)

SECRET = "whsec-workflow-5e6f"


@pytest.mark.parametrize("fails", [False, True], ids=["success", "diagnosis-quoting-the-secret"])
def test_a_mention_is_deployed_by_the_workflow_and_its_thread_ends_in_success(
    shop: Shop,  # noqa: F811 (the fixture)
    fails: bool,
) -> None:
    """Deployed from a mention, the deploy's thread follows its statuses; when the rollout
    fails with a Warning event quoting the secret (the fixture's secret holds a backslash,
    both quotes, a newline and non-ASCII), no form of it reaches any message or edit."""
    if fails:

        def fail(rtype: Any, namespace: str, obj: dict[str, Any] | None) -> None:
            if rtype.kind == "Deployment" and obj is not None and not fired.is_set():
                fired.set()
                message = f"env API_KEY={API_KEY!r} is not valid; json {json.dumps(API_KEY)}"

                def act() -> None:
                    ctl = shop.kube.controller
                    ctl.event(
                        "Deployment",
                        "default",
                        "web",
                        reason="FailedCreate",
                        message=message,
                        type="Warning",
                    )
                    ctl.exceed_deadline("Deployment", "default", "web")

                threading.Timer(0.2, act).start()

        fired = threading.Event()
        shop.kube.store.after_commit.append(fail)
    else:
        shop.kube.controller.auto_complete(0.05)
    with shop.emu.store.lock:  # the repository holds its config, read through the contents API
        for commit in shop.remote.commits.values():
            commit.files = {".commit-train.yml": CONFIG.encode()}
    app = shop.emu.create_app("commit-train")
    shop.emu.install_app(app, "acme")
    with SlackEmulator() as slack:
        slack.add_user("U2", "bob")
        slack.add_channel("C1", "shop")
        service = build(
            environ={
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": slack.signing_secret,
                "SLACK_API_URL": slack.base_url,
                "GITHUB_APP_ID": str(app.id),
                "GITHUB_APP_PRIVATE_KEY": str(app.private_key_pem),
                "GITHUB_API_URL": shop.emu.base_url,
                "GITHUB_WEBHOOK_SECRET": SECRET,
            },
            settings=settings.LoadedServeConfig(
                settings.parse("owner: acme\npeople: {U2: bob}\n"), None
            ),
            mode="http",
        )
        server: Any = service.http_server(host="127.0.0.1", port=0, slack_events=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        shop.emu.add_webhook(shop.remote, f"{url}/github/webhook", SECRET, app=app)
        try:
            mention = slack.app_mention("U2", "C1", f"deploy shop staging {shop.green[:7]}")
            assert slack.signed(mention).post(f"{url}/slack/events")[0] == 200
            message = slack.wait_for_message("C1", lambda m: m.is_bot and "queued" in m.text)
            [deployment] = shop.remote.deployments
            assert deployment["payload"]["requested_by"] == "bob"

            run = shop.play_deployment(deployment["id"])
            if fails:
                assert run.status == "failure"
                slack.wait_for(lambda: ":x:" in slack.message("C1", message.ts).text, timeout=10)
                final = slack.message("C1", message.ts)
                assert "failure: rollout failed: web: FailedCreate" in final.text
                written = {
                    f"{m.ts} revision {n}": decoded(json.dumps([r.text, r.blocks]))
                    for m in slack.messages("C1")
                    for n, r in enumerate(m.revisions)
                }
                assert not leaked(written, API_KEY)
                return
            assert run.status == "success", [(s.name, s.log) for s in run.ran]

            slack.wait_for(
                lambda: ":white_check_mark:" in slack.message("C1", message.ts).text, timeout=10
            )
            final = slack.message("C1", message.ts)
            assert f"<@U2> deployed `{shop.green[:7]}` Add the checkout page" in final.text
            assert "to *staging* of acme/shop: success" in final.text
            shown = [r.text for r in final.revisions]
            assert any(": in_progress" in text for text in shown), shown
            assert len(slack.bot_messages("C1")) == 1  # one message, edited in place
        finally:
            server.shutdown()
            server.server_close()
