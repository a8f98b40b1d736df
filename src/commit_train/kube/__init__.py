"""Everything commit-train knows about Kubernetes.

Submodules are imported on demand so that ``import commit_train.kube`` never loads the
``kubernetes`` client: ``rollout`` and ``diagnose`` are pure functions over API-shaped dicts.
"""
