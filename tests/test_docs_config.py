"""docs/config.md documents every key of the config models, under its YAML spelling."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from commit_train import config

DOC = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def test_every_config_key_is_documented() -> None:
    models: list[type[BaseModel]] = [
        config.Config,
        config.Manifests,
        config.Kubernetes,
        config.Checks,
        config.Environment,
    ]
    missing = [
        f"{model.__name__}.{key}"
        for model in models
        for key in _keys(model)
        if f"| `{key}` |" not in DOC
    ]
    assert missing == []


def test_the_documented_example_is_valid() -> None:
    example = DOC.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = config.parse(example)
    assert cfg.environments["production"].requires == ("staging",)
    assert cfg.kubernetes.rollout_timeout == 600.0
