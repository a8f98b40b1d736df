"""Reading a repository's deployments in bulk for ``stats``: each page once, newest first.

Why GraphQL and not REST: REST lists 100 deployments a request but without their statuses,
which cost one more request per deployment (``GET .../deployments/{id}/statuses``): 90,000
deploys would be 90,900 REST requests, 18 hours of a user token's 5,000 an hour. GraphQL
answers 100 deployments with their statuses in one request; GitHub charges it 1 point
("rate limits for the GraphQL API": the requests needed to fill each connection, 1 for the
page and 1 for the statuses of each of its 100 deployments, divided by 100 and rounded),
so 90,000 deploys are 900 requests and 900 points. The environments travel together in one
connection (``environments: [...]``), so their number changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from commit_train.backends.github.mapping import deployment_from_graphql
from commit_train.backends.github.queries import LEDGER_NODES_QUERY, LEDGER_PAGE_QUERY
from commit_train.backends.github.transport import Transport
from commit_train.ports import LedgerEntry

PAGE = 100  # GitHub's most for ``first`` and for ``nodes(ids:)``


class Ledger:
    """The bulk reads of one repository's deployments, over its ``Transport``."""

    def __init__(self, http: Transport) -> None:
        self._http = http

    def _entry(self, node: dict[str, object]) -> LedgerEntry:
        deployment = deployment_from_graphql(
            node, url=self._http.deployment_url(node.get("databaseId"))
        )
        return str(node["id"]), deployment

    def pages(self, environments: Sequence[str]) -> Iterator[list[LedgerEntry]]:
        after: str | None = None
        while True:
            data = self._http.graphql(
                LEDGER_PAGE_QUERY,
                {"after": after, "environments": list(environments) or None},
                action=f"read the deployments of {self._http.repo}",
            )
            connection = data["repository"]["deployments"]
            yield [self._entry(node) for node in connection["nodes"] if node]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]

    def refresh(self, keys: Sequence[str]) -> list[LedgerEntry]:
        found: list[LedgerEntry] = []
        for start in range(0, len(keys), PAGE):
            data = self._http.graphql(
                LEDGER_NODES_QUERY,
                {"ids": list(keys[start : start + PAGE])},
                action=f"read the unfinished deployments of {self._http.repo} again",
                scoped=False,
            )
            found += [self._entry(node) for node in data["nodes"] if node]
        return found
