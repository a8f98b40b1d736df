"""Templates to manifests: a Jinja2 sandbox, values, secrets and schema validation."""
