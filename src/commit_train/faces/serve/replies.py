"""What the bot says: a ``Reply`` is the message's ``text`` (the fallback Slack shows in
notifications) and its Block Kit ``blocks``, built with ``slack_sdk.models.blocks`` so Slack's
limits are checked before anything is sent.

Every text that came from elsewhere (commit titles, lock reasons, error lines, check names) is
escaped for Slack's mrkdwn (``&``, ``<`` and ``>``: Slack docs, "Formatting text for app
surfaces"), so a title cannot mention ``@channel`` or forge a link. Tables are the CLI's own
(``faces.tables``), without colour, in a monospace block.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commit_train.core.text import clip, plural
from commit_train.faces.serve.commands import USAGE

SECTION_LIMIT = 3000  # characters of a section's text (Slack docs: "Section block")
CONFIRM_ACTION = "commit_train_confirm_deploy"

_ICONS = {
    "queued": ":hourglass_flowing_sand:",
    "pending": ":hourglass_flowing_sand:",
    "in_progress": ":rocket:",
    "success": ":white_check_mark:",
    "failure": ":x:",
    "error": ":warning:",
    "inactive": ":zzz:",
}
_DESCRIPTIONS = {
    "status": "the newest commits of the default branch, their checks, where each is live",
    "deploy": "ship a green commit of the default branch (a sha, a short sha or HEAD); "
    "again: even one already queued or live there",
    "history": "what ran in each environment, and whether it worked",
    "lock": "only you may deploy there until you unlock it (ttl like 2h lets it expire)",
    "unlock": "end your lock",
    "locks": "who holds which lock, and why",
    "rollback": "deploy the previous good commit again",
    "stale": "commits merged but not deployed for too long",
    "help": "this help",
}


def escape(text: str) -> str:
    """Slack's mrkdwn escapes: ``&``, ``<`` and ``>`` as entities, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tag(slack_user: str) -> str:
    return f"<@{slack_user}>"


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: tuple[Block, ...] = ()
    # Set on a deploy that started: the thread's facts, kept in the deployment's payload.
    deployment_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def blocks_json(self) -> list[dict[str, Any]]:
        """The blocks as Slack wants them; ``to_dict`` raises on a broken limit."""
        return [b.to_dict() for b in self.blocks]


def section(markdown: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(markdown, SECTION_LIMIT)))


def monospace(table: str) -> SectionBlock:
    """``table`` escaped in a code block, cut to fit a section."""
    room = SECTION_LIMIT - 8 - len("\n… (cut)")
    body = escape(table)
    if len(body) > room:
        body = body[:room].rsplit("\n", 1)[0] + "\n… (cut)"
    return SectionBlock(text=MarkdownTextObject(text=f"```\n{body}\n```"))


def context(*parts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(p, 3000)) for p in parts[:10]])


def link(url: str, label: str) -> str:
    """A link; ``url`` must be a plain http(s) URL (anything with ``|`` or ``>`` is left out)."""
    if not url.startswith(("https://", "http://")) or any(c in url for c in "|<> "):
        return escape(label)
    return f"<{url}|{escape(label)}>"


def answer(user: str, headline: str, table: str | None = None, *notes: str) -> Reply:
    """A reply that tags ``user``: an (already escaped) headline, a table, context notes."""
    blocks: list[Block] = [section(f"{tag(user)} {headline}")]
    if table is not None:
        blocks.append(monospace(table))
    if notes:
        blocks.append(context(*notes))
    return Reply(text=clip(f"{tag(user)} {headline}", SECTION_LIMIT), blocks=tuple(blocks))


def refused(user: str, line: str) -> Reply:
    """The CLI's one-line refusal, escaped, tagging the requester."""
    return answer(user, f":no_entry: {escape(line)}")


def help_reply(user: str, problem: str | None = None, *, owner: str | None = None) -> Reply:
    lines = [f"`{USAGE[name]}`  {desc}" for name, desc in _DESCRIPTIONS.items()]
    repo = "shop" if owner else "acme/shop"
    example = f"Try `status {repo}`, or `deploy {repo} staging HEAD`."
    head = (
        f":wave: {escape(problem)}. Here is what I understand:"
        if problem
        else ("Here is what I understand:")
    )
    blocks: list[Block] = [section(f"{tag(user)} {head}"), section("\n".join(lines))]
    blocks.append(context(example))
    return Reply(text=f"{tag(user)} {escape(problem) if problem else 'help'}", blocks=tuple(blocks))


# -- a deploy's thread ---------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadInfo:
    """What a deploy's message shows besides its current status; kept in the deployment's
    payload (``slack``) so any replica can redraw the message from a webhook alone."""

    repo: str
    environment: str
    deployment_id: int
    sha: str
    title: str
    requested_by: str
    user: str  # the requester's Slack id
    channel: str
    ts: str
    ships: str = ""
    dashboard: str | None = None
    rollback: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ts": self.ts,
            "user": self.user,
            "ships": clip(self.ships, 300),
            "dashboard": self.dashboard,
        }

    @classmethod
    def from_deployment(
        cls,
        *,
        repo: str,
        deployment_id: int,
        environment: str,
        sha: str,
        payload: Mapping[str, Any],
    ) -> ThreadInfo | None:
        """The thread of a deployment the bot asked for; None for any other deployment."""
        slack = payload.get("slack") if isinstance(payload, Mapping) else None
        if not isinstance(slack, Mapping) or not slack.get("channel") or not slack.get("ts"):
            return None
        dashboard = slack.get("dashboard")
        return cls(
            repo=repo,
            environment=environment,
            deployment_id=deployment_id,
            sha=sha,
            title=str(payload.get("title") or ""),
            requested_by=str(payload.get("requested_by") or ""),
            user=str(slack.get("user") or ""),
            channel=str(slack["channel"]),
            ts=str(slack["ts"]),
            ships=str(slack.get("ships") or ""),
            dashboard=str(dashboard) if dashboard else None,
            rollback=bool(payload.get("rollback_of")),
        )


def deploy_message(
    info: ThreadInfo,
    *,
    state: str,
    description: str = "",
    log_url: str | None = None,
    progress_url: str | None = None,
) -> Reply:
    """The deploy's one message, as of its newest status."""
    verb = "rolling back" if info.rollback else "deploying"
    if state == "success":
        verb = "rolled back" if info.rollback else "deployed"
    elif state in ("failure", "error"):
        verb = "failed to roll back" if info.rollback else "failed to deploy"
    who = tag(info.user) if info.user else escape(info.requested_by)
    head = (
        f"{_ICONS.get(state, '')} {who} {verb} `{info.sha[:7]}` {escape(info.title)} "
        f"to *{escape(info.environment)}* of {escape(info.repo)}"
    ).strip()
    blocks: list[Block] = [section(head)]
    if info.ships:
        blocks.append(section(escape(info.ships)))
    line = f"*{state}*" + (f": {escape(description)}" if description else "")
    blocks.append(section(line))
    links = [f"deployment {info.deployment_id}"]
    if info.dashboard:
        links.append(link(info.dashboard, "dashboard"))
    if log_url:
        links.append(link(log_url, "log"))
    if progress_url:
        links.append(link(progress_url, "all deployments"))
    blocks.append(context(" · ".join(links)))
    text = f"{head}: {state}" + (f": {escape(description)}" if description else "")
    return Reply(text=clip(text, SECTION_LIMIT), blocks=tuple(blocks))


def confirm_request(
    *,
    user: str,
    repo: str,
    environment: str,
    sha: str,
    title: str,
    ships: str,
    again: bool = False,
) -> Reply:
    """Ask the requester to confirm: a button with a confirm dialog. The button's value
    carries the request (repository, environment, full sha, requester, and ``again`` when
    asked), so whichever replica receives the click can carry it out."""
    request: dict[str, object] = {
        "repo": repo,
        "environment": environment,
        "sha": sha,
        "user": user,
    }
    if again:
        request["again"] = True
    value = json.dumps(request, separators=(",", ":"))
    head = (
        f"{tag(user)} :warning: *{escape(environment)}* asks to confirm: deploy "
        f"`{sha[:7]}` {escape(title)} of {escape(repo)}?"
    )
    button = ButtonElement(
        text=PlainTextObject(text=clip(f"Deploy {sha[:7]} to {environment}", 75)),
        action_id=CONFIRM_ACTION,
        value=value,
        style="danger",
        confirm=ConfirmObject(
            title=PlainTextObject(text="Deploy?"),
            text=MarkdownTextObject(
                text=clip(f"Deploy `{sha[:7]}` {escape(title)} to *{escape(environment)}*?", 300)
            ),
            confirm=PlainTextObject(text="Deploy"),
            deny=PlainTextObject(text="Cancel"),
        ),
    )
    blocks: list[Block] = [section(head)]
    if ships:
        blocks.append(section(escape(ships)))
    blocks.append(ActionsBlock(elements=[button]))
    blocks.append(context(f"only {tag(user)} can confirm"))
    return Reply(text=clip(head, SECTION_LIMIT), blocks=tuple(blocks))


def ships_line(titles: Sequence[str], *, behind: int | None, first: bool, beyond: int) -> str:
    """What a deploy changes: ``3 commits: a; b; c``, ``rolls back 2 commits``, ``already
    live``, ``the first deploy here`` or ``more than N commits``."""
    if first:
        return "the first deploy here"
    if behind is not None:
        return "already live" if behind == 0 else f"rolls back {plural(behind, 'commit')}"
    if not titles:
        return f"more than {beyond} commits" if beyond else "already live"
    shown = "; ".join(clip(t, 60) for t in titles[:5])
    more = f"; and {len(titles) - 5} more" if len(titles) > 5 else ""
    return f"{plural(len(titles), 'commit')}: {shown}{more}"
