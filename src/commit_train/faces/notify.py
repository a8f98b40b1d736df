"""Notifications: each event of an environment goes to that environment's route.

Events: a deploy requested, started, succeeded, failed or rolled back; a lock taken or
ended; a stale-commit reminder. The route is ``environments.<name>.notify`` in the config,
else the top-level ``notify``; each names the environment variable (a secret) holding a
Slack incoming-webhook URL, never the URL, and optionally which events it wants.

A message is read at a glance: the first line says who did what to which commit where,
and the result; the blocks add the commit title and a link to the run. The payload is
Slack's documented one for incoming webhooks: ``text`` (the fallback shown in
notifications) plus ``blocks`` (``section`` with ``mrkdwn`` text, ``context``).

A notification never fails a deploy: ``Notifier.send`` returns warnings (a missing
secret, a webhook that answers an error or cannot be reached) and raises nothing.
``slack-sdk`` is imported only when a message is really sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from commit_train.config import Config
from commit_train.core.routes import routes_for
from commit_train.models import Event, Notice, SendReport, StaleLine

_HEADLINE = {
    Event.DEPLOY_REQUESTED: (":inbox_tray:", "requested a deploy of"),
    Event.DEPLOY_STARTED: (":rocket:", "is deploying"),
    Event.DEPLOY_SUCCEEDED: (":white_check_mark:", "deployed"),
    Event.DEPLOY_FAILED: (":x:", "failed to deploy"),
    Event.ROLLED_BACK: (":rewind:", "rolled back to"),
}

# Slack limits: a section's text is at most 3000 characters, a message at most 50 blocks.
_SECTION_LIMIT = 3000
_BLOCK_LIMIT = 50


def _where(environment: str) -> str:
    return "all environments" if environment == "*" else environment


def _escape(text: str) -> str:
    """Slack's mrkdwn escapes: only ``&``, ``<`` and ``>`` must be written as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(notice: Notice) -> str:
    """The one line a person reads first (also the payload's ``text`` fallback)."""
    where = _where(notice.environment)
    short = notice.sha[:7]
    if notice.event in _HEADLINE:
        icon, verb = _HEADLINE[notice.event]
        commit = f"{short} {notice.title}".strip()
        line = f"{icon} {notice.actor} {verb} {commit} to {where}"
        if notice.event == Event.ROLLED_BACK:
            line = f"{icon} {notice.actor} rolled {where} back to {commit}"
        return line + (f": {notice.detail}" if notice.detail else "")
    if notice.event == Event.LOCKED:
        return f":lock: {notice.actor} locked {where}: {notice.detail or 'no reason given'}"
    if notice.event == Event.UNLOCKED:
        return f":unlock: {notice.actor} unlocked {where}" + (
            f": {notice.detail}" if notice.detail else ""
        )
    count = len(notice.commits)
    return (
        f":hourglass: {count} commit{'s' if count != 1 else ''} merged but not deployed "
        f"to {where}" + (f" ({notice.detail})" if notice.detail else "")
    )


def _mrkdwn(text: str, limit: int = _SECTION_LIMIT) -> str:
    """``text`` escaped for Slack and cut to ``limit`` characters without splitting an entity."""
    escaped = _escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def slack_payload(notice: Notice) -> dict[str, Any]:
    """Slack's incoming-webhook payload: ``text`` plus ``blocks``.

    The blocks are built with ``slack_sdk.models.blocks``, which refuses a block over
    Slack's limits (3,000 characters of section text), so a message Slack would reject
    fails here, in a test, and not silently at the webhook. The ``text`` fallback is
    escaped like the blocks: a commit title holding ``<!channel>`` or a
    ``<https://evil|click>`` link is shown as written, never as a ping or a link.
    """
    from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

    text = headline(notice)
    blocks: list[SectionBlock | ContextBlock] = [
        SectionBlock(text=MarkdownTextObject(text=_mrkdwn(text)))
    ]
    if notice.commits:
        by_author: dict[str, list[StaleLine]] = {}
        for line in notice.commits:
            by_author.setdefault(line.author or "unknown", []).append(line)
        for author, lines in by_author.items():
            if len(blocks) >= _BLOCK_LIMIT - 1:
                break
            body = f"*{_escape(author)}*\n" + "\n".join(
                f"• `{c.sha[:7]}` {_escape(c.title)} ({c.age})" for c in lines
            )
            if len(body) > _SECTION_LIMIT:
                body = body[: _SECTION_LIMIT - 1].rsplit("\n", 1)[0] + "\n…"
            blocks.append(SectionBlock(text=MarkdownTextObject(text=body)))
    context = [f"*{_escape(notice.repo)}*", f"environment: *{_escape(_where(notice.environment))}*"]
    if notice.sha:
        context.append(f"commit `{notice.sha[:7]}`")
    if notice.run_url:
        context.append(f"<{notice.run_url}|view the run>")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=" · ".join(context))]))
    return {"text": _mrkdwn(text, 40_000), "blocks": [b.to_dict() for b in blocks]}


class WebhookNotifier:
    """Sends notices to their routes; failures become warnings, never errors."""

    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        timeout: int = 5,
    ) -> None:
        self.config = config
        self._environ = environ if environ is not None else os.environ
        self.timeout = timeout

    def send(self, notice: Notice) -> SendReport:
        report = SendReport()
        for route in routes_for(self.config, notice.environment):
            if notice.event.value not in route.events:
                continue
            url = self._environ.get(route.webhook_env, "").strip()
            if not url:
                report.warnings.append(
                    f"notification {notice.event.value} for {_where(notice.environment)} not "
                    f"sent: the secret {route.webhook_env} is not set"
                )
                continue
            warning = post_to_slack(url, slack_payload(notice), timeout=self.timeout)
            if warning is None:
                report.sent += 1
            else:
                report.warnings.append(
                    f"notification {notice.event.value} for {_where(notice.environment)} not "
                    f"sent to {route.webhook_env}: {warning}"
                )
        return report


def post_to_slack(url: str, payload: Mapping[str, Any], *, timeout: int = 5) -> str | None:
    """Post one payload to an incoming webhook: None when Slack says ``ok``, else why not.

    The URL is a secret, so no message here ever includes it.
    """
    from slack_sdk.webhook import WebhookClient  # only when a message is really sent

    client = WebhookClient(url, timeout=timeout)
    try:
        response = client.send(text=payload.get("text"), blocks=payload.get("blocks"))
    except Exception as exc:  # any failure to reach Slack is only a warning
        return f"the webhook could not be reached ({type(exc).__name__})"
    if response.status_code != 200:
        body = (response.body or "").strip().splitlines()[0:1]
        said = f" {body[0][:100]}" if body else ""
        return f"the webhook answered {response.status_code}{said}"
    return None
