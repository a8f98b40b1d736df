"""``commit-train serve``: the deploy service and its Slack bot, a thin face over the train.

``commands`` parses what a person typed, ``dispatch`` runs it over ``service.train`` (the CLI's
train) and answers a ``replies.Reply``; ``settings`` is the service's own config; ``slack``
wires slack-bolt (Socket Mode or HTTP) and the GitHub webhook; ``github`` reads each
repository's ``.commit-train.yml`` and the memberships through ``backends.github.app``.
Nothing here is imported by ``commit-train --help``.
"""
