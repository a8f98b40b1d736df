from __future__ import annotations

from pathlib import Path

import pytest

from commit_train import config
from commit_train.errors import ConfigError, NotFoundError


def test_defaults_when_no_file(tmp_path: Path) -> None:
    loaded = config.load(tmp_path)
    assert loaded.path is None
    assert loaded.config.environments == {}
    assert loaded.config.kubernetes.rollout_timeout == 600.0


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / ".commit-train.yml").write_text(
        "image: ghcr.io/acme/shop\n"
        "kubernetes:\n  rollout-timeout: 5m\n"
        "environments:\n"
        "  staging: {}\n"
        "  production:\n    production: true\n    requires: [staging]\n    stale-after: 24h\n"
    )
    cfg = config.load(tmp_path).config
    assert cfg.image == "ghcr.io/acme/shop"
    assert cfg.kubernetes.rollout_timeout == 300.0
    assert cfg.environments["production"].production is True
    assert cfg.environments["production"].requires == ("staging",)
    assert cfg.environments["production"].stale_after == 86400.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "environments:\n  prod:\n    prodution: true\n",
            ".commit-train.yml: environments.prod.prodution: unknown key; "
            "did you mean 'production'?",
        ),
        (
            "enviroments: {}\n",
            ".commit-train.yml: enviroments: unknown key; did you mean 'environments'?",
        ),
        (
            "kubernetes:\n  rollout-timeout: soon\n",
            ".commit-train.yml: kubernetes.rollout-timeout: 'soon' is not a duration; "
            "write it like 30s, 10m, 24h or 7d",
        ),
        (
            "environments:\n  prod:\n    requires: [staging]\n",
            ".commit-train.yml: environments.prod.requires: unknown environment 'staging'; "
            "define 'staging' under environments: or remove it",
        ),
        (
            "- a\n- b\n",
            ".commit-train.yml: expected a mapping at the top level; "
            "start the file with keys such as environments:",
        ),
        ("a: [\n", ".commit-train.yml: line 1 is not valid YAML; fix the syntax"),
        ("version: 2\n", ".commit-train.yml: version: 2 is not supported; write version: 1"),
        (
            "environments:\n  staging:\n    production: maybe\n",
            ".commit-train.yml: environments.staging.production: expected true or false, "
            "got 'maybe'; write true or false",
        ),
        (
            "checks:\n  ignore: lint\n",
            ".commit-train.yml: checks.ignore: expected a list, got 'lint'; "
            "write it as a list, like [a, b] or one '- item' a line",
        ),
        (
            "environments: [staging]\n",
            ".commit-train.yml: environments: expected a mapping, got list; "
            "write it as keys under this one, or {} for none",
        ),
        (
            "environments:\n  staging: 3\n",
            ".commit-train.yml: environments.staging: expected a mapping, got int; "
            "write it as keys under this one, or {} for none",
        ),
        (
            "image: [a]\n",
            ".commit-train.yml: image: expected a string, got list; "
            "quote it if YAML reads it as something else",
        ),
    ],
)
def test_errors_name_file_key_and_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse(text)
    assert str(info.value) == message


def test_unknown_environment_lists_known() -> None:
    cfg = config.parse("environments:\n  staging: {}\n  production: {}\n")
    with pytest.raises(NotFoundError) as info:
        cfg.environment("prod")
    assert str(info.value) == (
        "unknown environment 'prod' (known: production, staging); "
        "use one of them, or add 'prod' under environments: in .commit-train.yml"
    )
