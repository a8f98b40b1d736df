"""Block Kit checks for the Slack emulator: what makes Slack answer ``invalid_blocks``.

Slack refuses a message whose ``blocks`` break Block Kit's documented shape with
``{"ok": false, "error": "invalid_blocks"}`` and explains why in ``response_metadata.messages``,
one line per problem, each naming the JSON pointer of the offending field, for example
``[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]``.
``block_problems`` returns those lines (empty when the blocks are good).

The check is structural, not a copy of Slack's validator: block and element types, the text
objects they require (``plain_text`` where Slack allows nothing else), required fields, and the
documented limits. Sources (Slack docs, Block Kit reference, docs.slack.dev/reference/block-kit):

- a message holds at most 50 blocks; ``block_id`` and ``action_id`` at most 255 characters, and a
  ``block_id`` is unique within a message;
- section: ``text`` (1 to 3000 characters) or ``fields`` (at most 10, each at most 2000);
  an optional ``accessory`` element;
- header: ``plain_text`` text of at most 150 characters;
- context: 1 to 10 elements, text objects or image elements;
- actions: 1 to 25 interactive elements;
- image: ``image_url`` (at most 3000) or ``slack_file``, and ``alt_text`` (at most 2000);
- markdown: ``text`` of at most 12000 characters; rich_text: a list of ``elements``;
- button: ``plain_text`` text of at most 75 characters, ``value`` at most 2000, ``url`` at most
  3000, ``style`` ``primary`` or ``danger``, an optional ``confirm`` object;
- confirm object: ``title`` (plain_text, 100), ``text`` (300), ``confirm`` and ``deny``
  (plain_text, 30 each), optional ``style``;
- select and overflow options: ``text`` plain_text of at most 75, ``value`` at most 150; at most
  100 options in a select, 2 to 5 in an overflow menu.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_ID = 255

TEXT_TYPES = ("plain_text", "mrkdwn")
INTERACTIVE_ELEMENTS = {
    "button",
    "checkboxes",
    "channels_select",
    "conversations_select",
    "datepicker",
    "datetimepicker",
    "external_select",
    "multi_static_select",
    "multi_users_select",
    "multi_channels_select",
    "multi_conversations_select",
    "multi_external_select",
    "overflow",
    "radio_buttons",
    "static_select",
    "timepicker",
    "users_select",
    "workflow_button",
}
ACCESSORY_ELEMENTS = INTERACTIVE_ELEMENTS | {"image"}


class _Check:
    """Collects Slack-style problem lines while walking one ``blocks`` array."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def error(self, pointer: str, message: str) -> None:
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def required(self, obj: dict[str, Any], field: str, pointer: str) -> bool:
        if field not in obj or obj[field] is None:
            self.error(pointer, f"missing required field: {field}")
            return False
        return True

    def string(self, value: Any, pointer: str, *, limit: int, minimum: int = 1) -> None:
        if not isinstance(value, str):
            self.error(pointer, "must be a string")
        elif len(value) < minimum:
            self.error(pointer, f"must be more than {minimum - 1} characters")
        elif len(value) > limit:
            self.error(pointer, f"must be less than {limit + 1} characters")

    def optional_id(self, obj: dict[str, Any], field: str, pointer: str) -> None:
        if field in obj:
            self.string(obj[field], f"{pointer}/{field}", limit=MAX_ID)

    def text(self, obj: Any, pointer: str, *, limit: int, plain_only: bool = False) -> None:
        """A composition text object (Slack docs: Block Kit, composition objects, text)."""
        if not isinstance(obj, dict):
            self.error(pointer, "must provide an object")
            return
        kind = obj.get("type")
        if kind not in TEXT_TYPES:
            self.error(f"{pointer}/type", f"must be one of {', '.join(TEXT_TYPES)}")
            return
        if plain_only and kind != "plain_text":
            self.error(f"{pointer}/type", "must be plain_text")
        if self.required(obj, "text", pointer):
            self.string(obj["text"], f"{pointer}/text", limit=limit)

    def items(
        self, value: Any, pointer: str, *, minimum: int, maximum: int
    ) -> list[tuple[str, Any]]:
        if not isinstance(value, list):
            self.error(pointer, "must provide an array")
            return []
        if len(value) < minimum:
            self.error(pointer, f"must provide at least {minimum} items")
        if len(value) > maximum:
            self.error(pointer, f"no more than {maximum} items allowed")
        return [(f"{pointer}/{index}", item) for index, item in enumerate(value)]


def block_problems(blocks: Any) -> list[str]:
    """Slack's ``response_metadata.messages`` for ``blocks``, or [] when Slack would accept them."""
    check = _Check()
    if not isinstance(blocks, list):
        check.error("/blocks", "must provide an array")
        return check.problems
    if len(blocks) > MAX_BLOCKS:
        check.error("/blocks", f"no more than {MAX_BLOCKS} items allowed")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict):
            check.error(pointer, "must provide an object")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_ids:
                check.error(f"{pointer}/block_id", f"duplicate block_id: {block_id}")
            seen_ids.add(block_id)
        check.optional_id(block, "block_id", pointer)
        _block(check, block, pointer)
    return check.problems


def _block(check: _Check, block: dict[str, Any], pointer: str) -> None:
    kind = block.get("type")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            check.error(pointer, "must provide either text or fields")
        if "text" in block:
            check.text(block["text"], f"{pointer}/text", limit=3000)
        if "fields" in block:
            fields = check.items(block["fields"], f"{pointer}/fields", minimum=1, maximum=10)
            for field_pointer, field in fields:
                check.text(field, field_pointer, limit=2000)
        if "accessory" in block:
            _element(check, block["accessory"], f"{pointer}/accessory", ACCESSORY_ELEMENTS)
    elif kind == "header":
        if check.required(block, "text", pointer):
            check.text(block["text"], f"{pointer}/text", limit=150, plain_only=True)
    elif kind == "divider":
        pass
    elif kind == "context":
        if check.required(block, "elements", pointer):
            elements = check.items(block["elements"], f"{pointer}/elements", minimum=1, maximum=10)
            for element_pointer, element in elements:
                if isinstance(element, dict) and element.get("type") == "image":
                    _image_element(check, element, element_pointer)
                else:
                    check.text(element, element_pointer, limit=3000)
    elif kind == "actions":
        if check.required(block, "elements", pointer):
            elements = check.items(block["elements"], f"{pointer}/elements", minimum=1, maximum=25)
            action_ids: set[str] = set()
            for element_pointer, element in elements:
                _element(check, element, element_pointer, INTERACTIVE_ELEMENTS)
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        check.error(
                            f"{element_pointer}/action_id", f"duplicate action_id: {action_id}"
                        )
                    action_ids.add(action_id)
    elif kind == "image":
        _image_element(check, block, pointer)
        if "title" in block:
            check.text(block["title"], f"{pointer}/title", limit=2000, plain_only=True)
    elif kind == "markdown":
        if check.required(block, "text", pointer):
            check.string(block["text"], f"{pointer}/text", limit=12000)
    elif kind == "rich_text":
        if check.required(block, "elements", pointer) and not isinstance(block["elements"], list):
            check.error(f"{pointer}/elements", "must provide an array")
    elif kind is None:
        check.error(pointer, "missing required field: type")
    else:
        check.error(f"{pointer}/type", f"unsupported type: {kind}")


def _image_element(check: _Check, element: dict[str, Any], pointer: str) -> None:
    if "image_url" in element:
        check.string(element["image_url"], f"{pointer}/image_url", limit=3000)
    elif "slack_file" not in element:
        check.error(pointer, "must provide either image_url or slack_file")
    if check.required(element, "alt_text", pointer):
        check.string(element["alt_text"], f"{pointer}/alt_text", limit=2000)


def _element(check: _Check, element: Any, pointer: str, allowed: set[str]) -> None:
    if not isinstance(element, dict):
        check.error(pointer, "must provide an object")
        return
    kind = element.get("type")
    if kind is None:
        check.error(pointer, "missing required field: type")
        return
    if kind not in allowed:
        check.error(f"{pointer}/type", f"unsupported type: {kind}")
        return
    if kind == "image":
        _image_element(check, element, pointer)
        return
    check.optional_id(element, "action_id", pointer)
    if "confirm" in element:
        _confirm(check, element["confirm"], f"{pointer}/confirm")
    if kind == "button":
        if check.required(element, "text", pointer):
            check.text(element["text"], f"{pointer}/text", limit=75, plain_only=True)
        if "value" in element:
            check.string(element["value"], f"{pointer}/value", limit=2000)
        if "url" in element:
            check.string(element["url"], f"{pointer}/url", limit=3000)
        if "style" in element and element["style"] not in ("primary", "danger"):
            check.error(f"{pointer}/style", "must be one of primary, danger")
    elif kind in ("static_select", "multi_static_select"):
        if "options" not in element and "option_groups" not in element:
            check.error(pointer, "must provide either options or option_groups")
        if "options" in element:
            _options(check, element["options"], f"{pointer}/options", minimum=1, maximum=100)
    elif kind == "overflow":
        if check.required(element, "options", pointer):
            _options(check, element["options"], f"{pointer}/options", minimum=2, maximum=5)


def _options(check: _Check, options: Any, pointer: str, *, minimum: int, maximum: int) -> None:
    for option_pointer, option in check.items(options, pointer, minimum=minimum, maximum=maximum):
        if not isinstance(option, dict):
            check.error(option_pointer, "must provide an object")
            continue
        if check.required(option, "text", option_pointer):
            check.text(option["text"], f"{option_pointer}/text", limit=75)
        if check.required(option, "value", option_pointer):
            check.string(option["value"], f"{option_pointer}/value", limit=150)


def _confirm(check: _Check, confirm: Any, pointer: str) -> None:
    """The confirmation dialog object (Slack docs: composition objects, confirmation dialog)."""
    if not isinstance(confirm, dict):
        check.error(pointer, "must provide an object")
        return
    for field, limit, plain_only in (
        ("title", 100, True),
        ("text", 300, False),
        ("confirm", 30, True),
        ("deny", 30, True),
    ):
        if check.required(confirm, field, pointer):
            check.text(confirm[field], f"{pointer}/{field}", limit=limit, plain_only=plain_only)
    if "style" in confirm and confirm["style"] not in ("primary", "danger"):
        check.error(f"{pointer}/style", "must be one of primary, danger")
