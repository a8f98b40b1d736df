"""The GraphQL query text of the GitHub backend: the only query text in the package.

Each read that needs related data (a deployment and its statuses, a commit and its checks,
the whole ``status`` screen) is one query here, and the tests validate every one against
GitHub's published schema. Several are built per call (``snapshot_query`` and friends): one
alias per environment or ref, so that a screen costs one request however many environments
it shows. The names travel as variables (``$env0``, ``$ref0``...), never inside the query
text, so any name is safe. That is why the text lives in Python rather than in ``.graphql``
files: the fixed parts are fragments the built queries share.
"""

from __future__ import annotations

from commit_train.models import RECENT_DEPLOYMENTS

# How many statuses of each deployment the GraphQL reads fetch (the latest is always added).
STATUSES_PER_DEPLOYMENT = 20
# How many deployments per environment ``snapshot`` looks through for the live one.
DEPLOYMENTS_PER_ENVIRONMENT = 20

_COMMIT_FIELDS = """
fragment CommitFields on Commit {
  oid
  messageHeadline
  committedDate
  author { name email user { login } }
  status { contexts { context state description targetUrl createdAt } }
  checkSuites(first: 50) {
    pageInfo { hasNextPage }
    nodes {
      app { slug }
      workflowRun { databaseId workflow { name } }
      checkRuns(first: 100, filterBy: {checkType: LATEST}) {
        pageInfo { hasNextPage }
        nodes { databaseId name status conclusion startedAt completedAt detailsUrl }
      }
    }
  }
}
"""

_DEPLOYMENT_FIELDS = """
fragment DeploymentStatusFields on DeploymentStatus {
  state createdAt description logUrl environmentUrl
}
fragment DeploymentFields on Deployment {
  databaseId environment createdAt payload description commitOid
  creator { login }
  latestStatus { ...DeploymentStatusFields }
  statuses(first: STATUSES) { nodes { ...DeploymentStatusFields } }
}
""".replace("STATUSES", str(STATUSES_PER_DEPLOYMENT))

CHECKS_QUERY = (
    """
query CommitTrainChecks($owner: String!, $name: String!, $sha: String!) {
  repository(owner: $owner, name: $name) {
    object(expression: $sha) { ... on Commit { ...CommitFields } }
  }
}
"""
    + _COMMIT_FIELDS
)

HEAD_QUERY = """
query CommitTrainHead($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      name
      target { ... on Commit { oid messageHeadline committedDate author { name user { login } } } }
    }
  }
}
"""

HISTORY_QUERY = """
query CommitTrainHistory($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      target {
        ... on Commit {
          history(first: $first, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { oid messageHeadline committedDate author { name user { login } } }
          }
        }
      }
    }
  }
}
"""

VIEWER_QUERY = """
query CommitTrainViewer {
  viewer { login }
}
"""

DEPLOYMENTS_QUERY = (
    """
query CommitTrainDeployments(
  $owner: String!, $name: String!, $first: Int!, $after: String, $environments: [String!]
) {
  repository(owner: $owner, name: $name) {
    deployments(
      first: $first, after: $after, environments: $environments,
      orderBy: {field: CREATED_AT, direction: DESC}
    ) {
      pageInfo { hasNextPage endCursor }
      nodes { ...DeploymentFields }
    }
  }
}
"""
    + _DEPLOYMENT_FIELDS
)


def snapshot_query(environment_count: int) -> str:
    """The ``status`` screen in one query: commits with checks, and one alias per environment.

    The environment names travel as variables (``$env0``, ``$env1``...), never inside the
    query text, so any name is safe.
    """
    params = "".join(f", $env{i}: [String!]" for i in range(environment_count))
    aliases = "".join(
        f"""
    env{i}: deployments(
      first: {DEPLOYMENTS_PER_ENVIRONMENT}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    return (
        f"""
query CommitTrainSnapshot($owner: String!, $name: String!, $limit: Int!{params}) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{
      name
      target {{ ... on Commit {{ history(first: $limit) {{ nodes {{ ...CommitFields }} }} }} }}
    }}{aliases}
  }}
}}
"""
        + _COMMIT_FIELDS
        + (_DEPLOYMENT_FIELDS if environment_count else "")
    )


def live_query(environment_count: int) -> str:
    """The look further back, for environments whose live deployment was not in the first
    window (``snapshot``, ``branch_state``): the next ``$first`` deployments of each, after
    its cursor (``$afterN``), with the cursor to go on from."""
    params = "".join(f", $env{i}: [String!], $after{i}: String" for i in range(environment_count))
    aliases = "".join(
        f"""
    env{i}: deployments(
      first: $first, after: $after{i}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    return (
        f"""
query CommitTrainLive($owner: String!, $name: String!, $first: Int!{params}) {{
  repository(owner: $owner, name: $name) {{{aliases}
  }}
}}
"""
        + _DEPLOYMENT_FIELDS
    )


def refs_query(ref_count: int) -> str:
    """Several refs and the message of the commit each points at, one alias per ref
    (``$ref0``, ``$ref1``...; the names travel as variables). Locks are read this way."""
    params = "".join(f", $ref{i}: String!" for i in range(ref_count))
    aliases = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    return f"""
query CommitTrainRefs($owner: String!, $name: String!{params}) {{
  repository(owner: $owner, name: $name) {{{aliases}
  }}
}}
"""


def branch_state_query(environment_count: int, ref_count: int) -> str:
    """A stale-commit scan's whole read in one query: the default branch's newest commits,
    each environment's recent deployments (for its live one), and the refs holding locks
    and reminder marks; and the token's login, who sends the reminders."""
    params = "".join(f", $env{i}: [String!]" for i in range(environment_count))
    params += "".join(f", $ref{i}: String!" for i in range(ref_count))
    envs = "".join(
        f"""
    env{i}: deployments(
      first: {DEPLOYMENTS_PER_ENVIRONMENT}, environments: $env{i},
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...DeploymentFields }} }}"""
        for i in range(environment_count)
    )
    refs = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    return f"""
query CommitTrainBranchState($owner: String!, $name: String!, $limit: Int!{params}) {{
  viewer {{ login }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{
      name
      target {{
        ... on Commit {{
          history(first: $limit) {{
            nodes {{ oid messageHeadline committedDate author {{ name user {{ login }} }} }}
          }}
        }}
      }}
    }}{envs}{refs}
  }}
}}
""" + (_DEPLOYMENT_FIELDS if environment_count else "")


COMMIT_DEPLOYMENTS_QUERY = (
    """
query CommitTrainCommitDeployments(
  $owner: String!, $name: String!, $sha: String!, $environments: [String!], $after: String
) {
  repository(owner: $owner, name: $name) {
    object(expression: $sha) {
      ... on Commit {
        deployments(
          first: 100, after: $after, environments: $environments,
          orderBy: {field: CREATED_AT, direction: DESC}
        ) { pageInfo { hasNextPage endCursor } nodes { ...DeploymentFields } }
      }
    }
  }
}
"""
    + _DEPLOYMENT_FIELDS
)


def gate_query(*, head: bool, promotion: bool, ref_count: int, target: bool = False) -> str:
    """Every fact the gate weighs, in one query (``GitHubBackend.gate_facts``).

    The commit is ``object(expression: $rev)`` (a sha, a short sha, a branch or a tag) and
    its place on the default branch is ``defaultBranchRef.compare(headRef: $rev)``:
    ``BEHIND`` or ``IDENTICAL`` means every commit of it is in the branch. For ``HEAD``
    (``head``) the commit is the default branch's own tip, and there is nothing to compare.
    With ``promotion`` the commit's deployments to ``$environments`` come along (the
    promotion order); ``ref_count`` refs (``$ref0``...) are read with their commit's message
    (the locks). ``viewer { login }`` comes along: the token's login is who acts
    (``GitHubBackend.viewer_login``). With ``target`` the newest ``RECENT_DEPLOYMENTS``
    deployments of ``$target`` come along (is the commit already queued or live there?).
    Every name travels as a variable, never inside the query text.
    """
    params = "" if head else ", $rev: String!"
    params += ", $environments: [String!]" if promotion else ""
    params += "".join(f", $ref{i}: String!" for i in range(ref_count))
    params += ", $target: [String!]" if target else ""
    recent = (
        f"""
    recent: deployments(
      first: {RECENT_DEPLOYMENTS}, environments: $target,
      orderBy: {{field: CREATED_AT, direction: DESC}}
    ) {{ nodes {{ ...DeploymentFields }} }}"""
        if target
        else ""
    )
    if head:
        branch = "target { ... on Commit { ...GateCommit } }"
        commit = ""
    else:
        branch = "compare(headRef: $rev) { status }"
        commit = """
    object(expression: $rev) { ... on Commit { ...GateCommit } }"""
    refs = "".join(
        f"""
    ref{i}: ref(qualifiedName: $ref{i}) {{ target {{ oid ... on Commit {{ message }} }} }}"""
        for i in range(ref_count)
    )
    deployments = (
        """
  deployments(
    first: 100, environments: $environments, orderBy: {field: CREATED_AT, direction: DESC}
  ) { pageInfo { hasNextPage endCursor } nodes { ...DeploymentFields } }"""
        if promotion
        else ""
    )
    return (
        f"""
query CommitTrainGate($owner: String!, $name: String!{params}) {{
  viewer {{ login }}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{ name {branch} }}{commit}{refs}{recent}
  }}
}}
fragment GateCommit on Commit {{
  ...CommitFields
  message{deployments}
}}
"""
        + _COMMIT_FIELDS
        + (_DEPLOYMENT_FIELDS if promotion or target else "")
    )


# Errors GitHub may give beside data for the gate's fields that can be null: a ref it cannot
# resolve or compare. The field is then null and ``gate_facts`` takes its fallback.
GATE_NULLABLE = (("repository", "object"), ("repository", "defaultBranchRef", "compare"))


# ``stats``' read of a window: every deployment of the environments asked, newest first, 100
# a page with their statuses. GitHub's cost: 1 connection request for the page plus 1 for
# the statuses of each of its 100 deployments, 101 / 100 rounded: 1 point a page. The node
# ``id`` is kept so that a deployment still running can be looked up again later.
LEDGER_PAGE_QUERY = (
    """
query CommitTrainLedgerPage(
  $owner: String!, $name: String!, $after: String, $environments: [String!]
) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    deployments(
      first: 100, after: $after, environments: $environments,
      orderBy: {field: CREATED_AT, direction: DESC}
    ) {
      pageInfo { hasNextPage endCursor }
      nodes { id ...DeploymentFields }
    }
  }
}
"""
    + _DEPLOYMENT_FIELDS
)

# The deployments of ``stats``' cache that had not finished when last read, looked up again
# by node id (at most 100 a request; 1 point: 100 statuses connections / 100).
LEDGER_NODES_QUERY = (
    """
query CommitTrainLedgerNodes($ids: [ID!]!) {
  rateLimit { cost }
  nodes(ids: $ids) { ... on Deployment { id ...DeploymentFields } }
}
"""
    + _DEPLOYMENT_FIELDS
)
