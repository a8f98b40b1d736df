"""The faces that compose the service: the CLI, the Actions runtime and the deploy service."""
