"""GitHub's "Search users" in the GitHub emulator: ``GET /search/users?q=...``.

As GitHub documents it (REST docs: "Search users"; "Searching users" for the qualifiers; "Rate
limits for the REST API" for its own limit):

- The answer is ``{"total_count", "incomplete_results", "items"}``; each item is a simple user
  with a ``score``. Pages are ``per_page`` (default 30, at most 100) and ``page``, with a
  ``Link`` header like every list.
- ``q`` holds search terms and qualifiers. ``in:login``, ``in:name``, ``in:email`` (any
  combination, comma separated) restrict where a term matches; "With the in qualifier you
  can restrict your search to the username (login), full name, public email". Only the
  PUBLIC email is searched: an account that keeps its email private is not found by it.
  Without ``in:`` the username and the email are searched. ``type:user`` or ``type:org``
  narrows the accounts. A term matches the words of a field ("data in:email type:org matches
  organizations with the word data in their email"), case-insensitively; an address is the
  words ``alice``, ``acme``, ``test``, in order.
- No ``q`` is 422 "Validation Failed" with ``{"resource": "Search", "field": "q", "code":
  "missing"}``.
- Search has its own rate limit (30 requests a minute authenticated, 10 anonymous), answered
  with ``x-ratelimit-resource: search``; ``github.py`` keeps that bucket.

Bots are not users of the search ("Search users" finds personal accounts and organizations).
The routes register themselves with ``github_rest.route``; ``github.py`` imports this module.
"""

from __future__ import annotations

import re

from .github_model import ApiError, User
from .github_rest import DOCS, Request, Response, paginate, render_user, route

SEARCH_USERS_DOCS = f"{DOCS}/search/search#search-users"
FIELDS = ("login", "name", "email")
_WORD = re.compile(r"[0-9a-z]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains(field: str | None, term: list[str]) -> bool:
    if not field or not term:
        return False
    words = _words(field)
    return any(words[i : i + len(term)] == term for i in range(len(words) - len(term) + 1))


def _field(user: User, name: str) -> str | None:
    if name == "login":
        return user.login
    if name == "name":
        return user.name
    return user.public_email


def parse_query(q: str) -> tuple[list[list[str]], tuple[str, ...], str | None]:
    """The terms (each as its words), the fields ``in:`` names, and ``type:``."""
    terms: list[list[str]] = []
    fields: tuple[str, ...] = ("login", "email")
    kind: str | None = None
    for token in q.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() == "in":
            named = tuple(f for f in value.lower().split(",") if f in FIELDS)
            fields = named or fields
        elif sep and key.lower() == "type" and value.lower() in ("user", "org"):
            kind = "Organization" if value.lower() == "org" else "User"
        elif token:
            terms.append(_words(token))
    return [t for t in terms if t], fields, kind


@route("GET", "/search/users")
def search_users(req: Request) -> Response:
    q = req.arg("q")
    if not q or not q.strip():
        raise ApiError(
            422,
            "Validation Failed",
            errors=[{"resource": "Search", "field": "q", "code": "missing"}],
            documentation_url=SEARCH_USERS_DOCS,
        )
    terms, fields, kind = parse_query(q)
    found = [
        user
        for user in sorted(req.store.users.values(), key=lambda u: u.id)
        if user.type in ("User", "Organization")
        and (kind is None or user.type == kind)
        and terms
        and all(any(_contains(_field(user, f), term) for f in fields) for term in terms)
    ]
    page, headers = paginate(req, found, "/search/users")
    items = [{**render_user(req.store, user), "score": 1.0} for user in page]
    body = {"total_count": len(found), "incomplete_results": False, "items": items}
    return Response(200, body, headers)
