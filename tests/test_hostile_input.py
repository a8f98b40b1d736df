"""Hostile repositories and command lines: each is refused with one line, never a hang.

A repository someone else can commit to is input: a template that is a symbolic link to
``/proc/self/environ``, a values file that is a YAML alias bomb, a template that computes
``n ** (n ** 8)``, a binary or bottomless config, a duplicate key. Each case here is a row of
docs/reliability.md: the exact line the user sees, and (for the CLI) the exit code.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commit_train import config
from commit_train.errors import ConfigError
from commit_train.faces.cli.main import cli
from tests.gitrepos import Repo
from tests.test_render import CM, error_of, make_repo, run

ENV = {
    "GITHUB_TOKEN": None,
    "GH_TOKEN": None,
    "COMMIT_TRAIN_BACKEND": None,
    "GITHUB_API_URL": None,
    "GITHUB_ACTOR": "carol",
    "NO_COLOR": None,
}

# 9 levels of 9 aliases: 9**9 (387 million) strings from under 500 bytes of YAML
ALIAS_BOMB = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["bomb: [*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8]"]
)


def cli_run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args], env=ENV, prog_name="commit-train")


def shop(tmp_path: Path, templates: dict[str, str] | None = None) -> Repo:
    """A committed repository with a config, one template and the values folder."""
    repo = Repo(tmp_path / "shop")
    folder = repo.root / "deploy" / "templates"
    folder.mkdir(parents=True)
    for name, text in (templates or {"cm.yaml": CM.format(name="settings")}).items():
        (folder / name).write_text(text)
    (repo.root / "deploy" / "values").mkdir()
    (repo.root / "deploy" / "values" / "defaults.yml").write_text("replicas: 1\n")
    repo.commit("Start the shop service")
    return repo


def one_error_line(result: Result, code: int = 1) -> str:
    """The single stderr line of a refused command (and nothing on stdout)."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "unexpected" not in lines[0]
    assert lines[0].startswith("error: ")
    return lines[0]


# -- templates stay in their folder ------------------------------------------------------


def test_a_template_linked_to_an_absolute_path_is_refused(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")})
    (tmp_path / "deploy" / "templates" / "x.j2").symlink_to("/proc/self/environ")
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.j2: a symbolic link that leaves deploy/templates "
        "(to /proc/self/environ); commit the file itself there instead of a link"
    )


def test_a_partial_linked_out_of_the_folder_is_refused_even_when_unused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("token: hunter2\n")
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")})
    (tmp_path / "deploy" / "templates" / "_parts").mkdir()
    (tmp_path / "deploy" / "templates" / "_parts" / "s.j2").symlink_to("../../../secret")
    message = error_of(tmp_path, cfg)
    assert message == (
        "deploy/templates/_parts/s.j2: a symbolic link that leaves deploy/templates "
        "(to ../../../secret); commit the file itself there instead of a link"
    )
    assert "hunter2" not in message


def test_a_linked_folder_leaving_the_templates_is_refused(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")})
    (tmp_path / "deploy" / "templates" / "etc").symlink_to("/etc", target_is_directory=True)
    assert error_of(tmp_path, cfg).startswith(
        "deploy/templates/etc: a symbolic link that leaves deploy/templates (to /etc)"
    )


def test_links_inside_the_templates_folder_are_allowed(tmp_path: Path) -> None:
    cfg = make_repo(
        tmp_path,
        {"_parts/cm.j2": CM.format(name="shared"), "cm.yaml": "{% include '_cm.j2' %}"},
    )
    (tmp_path / "deploy" / "templates" / "_cm.j2").symlink_to("_parts/cm.j2")
    assert [m.key.name for m in run(tmp_path, cfg).objects] == ["shared"]


def test_a_templates_folder_that_is_a_link_out_of_the_repository_is_refused(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "cm.yaml").write_text(CM.format(name="x"))
    root = tmp_path / "repo"
    root.mkdir()
    cfg = make_repo(root, {"cm.yaml": CM.format(name="x")})
    (root / "deploy" / "templates" / "cm.yaml").unlink()
    (root / "deploy" / "templates").rmdir()
    (root / "deploy" / "templates").symlink_to(outside, target_is_directory=True)
    assert error_of(root, cfg) == (
        f"deploy/templates: a symbolic link that leaves the repository (to {outside}); "
        "commit the folder itself there instead of a link"
    )


def test_a_manifests_path_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    make_repo(root, {"cm.yaml": CM.format(name="x")})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "cm.yaml").write_text(CM.format(name="x"))
    cfg = config.parse("manifests: {path: ../other}\nenvironments: {staging: {}}\n")
    assert error_of(root, cfg) == (
        "manifests.path '../other' leads out of the repository; give a folder inside the repository"
    )


def test_a_values_file_linked_out_of_its_folder_is_refused(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")}, values={"defaults.yml": "a: 1"})
    (tmp_path / "deploy" / "values" / "staging.yml").symlink_to("/proc/self/environ")
    assert error_of(tmp_path, cfg) == (
        "deploy/values/staging.yml: a symbolic link that leaves deploy/values "
        "(to /proc/self/environ); commit the file itself there instead of a link"
    )


def test_an_environment_values_file_out_of_the_values_folder_is_refused(tmp_path: Path) -> None:
    text = "environments:\n  staging: {values: ../../.commit-train.yml}\n"
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")}, config_text=text)
    assert error_of(tmp_path, cfg) == (
        "environments.staging.values '../../.commit-train.yml' leads out of deploy/values; "
        "name a file inside deploy/values"
    )


def test_a_config_file_linked_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".commit-train.yml").symlink_to(tmp_path / "kubeconfig")
    with pytest.raises(ConfigError) as caught:
        config.load(root)
    assert str(caught.value) == (
        f"{root}/.commit-train.yml: a symbolic link that leaves the repository "
        f"(to {tmp_path}/kubeconfig); commit the file itself there instead of a link"
    )


def test_render_at_a_ref_refuses_a_committed_absolute_link(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / "deploy" / "templates" / "x.j2").symlink_to("/proc/self/environ")
    repo.commit("Add a template")
    line = one_error_line(cli_run(repo.root, "render", "staging", "HEAD"))
    assert line == (
        "error: deploy/templates/x.j2: a symbolic link that leaves deploy/templates "
        "(to /proc/self/environ); commit the file itself there instead of a link"
    )
    # the working tree says the same, without reading the link
    assert one_error_line(cli_run(repo.root, "render", "staging")) == line


def test_render_at_a_ref_refuses_a_committed_link_out_of_the_tree(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / "deploy" / "templates" / "x.j2").symlink_to("../../../../../../etc/passwd")
    repo.commit("Add a template")
    assert one_error_line(cli_run(repo.root, "render", "staging", "HEAD")) == (
        "error: deploy/templates/x.j2: a symbolic link that leaves deploy/templates "
        "(to ../../../../../../etc/passwd); commit the file itself there instead of a link"
    )


def test_render_at_a_ref_keeps_links_inside_the_folder_and_ignores_links_elsewhere(
    tmp_path: Path,
) -> None:
    repo = shop(
        tmp_path, {"_parts.j2": CM.format(name="linked"), "cm.yaml": "{% include '_l.j2' %}"}
    )
    (repo.root / "deploy" / "templates" / "_l.j2").symlink_to("_parts.j2")
    (repo.root / "docs").mkdir()
    (repo.root / "docs" / "hosts").symlink_to("/etc/hosts")  # not ours to judge
    repo.commit("Add links")
    result = cli_run(repo.root, "render", "staging", "HEAD")
    assert result.exit_code == 0, result.output
    assert "name: linked" in result.stdout


# -- budgets -----------------------------------------------------------------------------


def test_an_alias_bomb_in_a_values_file_fails_fast_and_names_the_file(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 500
    values = {"defaults.yml": "replicas: 1\n", "staging.yml": ALIAS_BOMB}
    cfg = make_repo(tmp_path, {"cm.yaml": CM.format(name="x")}, values=values)
    started = time.monotonic()
    message = error_of(tmp_path, cfg)
    assert time.monotonic() - started < 5
    assert message.startswith("deploy/values/staging.yml:")
    assert "aliases would expand this document to more than 100000 values" in message


def test_an_alias_bomb_in_the_config_fails_fast(tmp_path: Path) -> None:
    (tmp_path / ".commit-train.yml").write_text(ALIAS_BOMB.replace("bomb:", "environments:"))
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path)
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith(f"{tmp_path}/.commit-train.yml: line ")
    assert "aliases would expand this document to more than 100000 values" in str(caught.value)


def test_an_alias_bomb_in_a_rendered_template_fails_fast(tmp_path: Path) -> None:
    template = (
        CM.format(name="x") + "data:\n" + "\n".join("  " + line for line in ALIAS_BOMB.splitlines())
    )
    cfg = make_repo(tmp_path, {"cm.yaml": template})
    started = time.monotonic()
    message = error_of(tmp_path, cfg, validate=False)
    assert time.monotonic() - started < 5
    assert message.startswith("deploy/templates/cm.yaml:")
    assert "aliases would expand this document to more than 100000 values" in message


@pytest.mark.parametrize(
    "expression",
    ["{% set n = 10 %}{{ n ** (n ** 8) }}", "{{ 10 ** (10 ** 8) }}", "{{ 2 ** 100000 }}"],
)
def test_the_sandbox_refuses_huge_powers(tmp_path: Path, expression: str) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": "a: 1\nb: " + expression + "\n"})
    started = time.monotonic()
    message = error_of(tmp_path, cfg)
    assert time.monotonic() - started < 5
    assert message.startswith("deploy/templates/x.yaml:2: not allowed in templates: ")
    assert "too large" in message


def test_the_sandbox_refuses_huge_repeats(tmp_path: Path) -> None:
    cfg = make_repo(tmp_path, {"x.yaml": "a: {{ 'x' * (10 ** 10) }}\n"})
    assert error_of(tmp_path, cfg).startswith("deploy/templates/x.yaml:1: not allowed in templates")


def test_small_powers_repeats_and_ranges_still_work(tmp_path: Path) -> None:
    template = (
        CM.format(name="x")
        + "data:\n  p: {{ (2 ** 10) | quote }}\n  r: {{ ('ab' * 3) | quote }}\n"
        + "  n: {{ range(1000) | sum | quote }}\n"
    )
    cfg = make_repo(tmp_path, {"x.yaml": template})
    assert run(tmp_path, cfg).objects[0].obj["data"] == {"p": "1024", "r": "ababab", "n": "499500"}


def test_nested_huge_ranges_hit_the_time_budget_and_name_the_template(tmp_path: Path) -> None:
    from commit_train.render.limits import RenderBudget

    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    cfg = make_repo(tmp_path, {"a.yaml": CM.format(name="a"), "b.yaml": "a: 1\n" + loop})
    started = time.monotonic()
    message = error_of(tmp_path, cfg, budget=RenderBudget(seconds=1.0))
    assert time.monotonic() - started < 10
    assert message == (
        "deploy/templates/b.yaml: rendering took longer than 1s; "
        "templates must render in seconds: look for loops over huge ranges"
    )


def test_output_past_the_size_budget_is_refused_and_names_the_template(tmp_path: Path) -> None:
    from commit_train.render.limits import RenderBudget

    loop = "{% for i in range(100000) %}{{ 'x' * 1000 }}\n{% endfor %}"
    cfg = make_repo(tmp_path, {"big.yaml": "a: |\n" + loop})
    message = error_of(tmp_path, cfg, budget=RenderBudget(output_chars=1_000_000))
    assert message == (
        "deploy/templates/big.yaml: rendered more than 1000000 characters; "
        "a render must stay under 1000000 characters: look for loops that repeat output"
    )


# -- one clear line ----------------------------------------------------------------------


def test_a_nul_byte_in_a_rendered_template_is_one_located_line(tmp_path: Path) -> None:
    values = {"defaults.yml": 'nul: "a\\0b"\n'}
    cfg = make_repo(
        tmp_path, {"x.yaml": CM.format(name="x") + "data:\n  v: {{ values.nul }}\n"}, values=values
    )
    assert error_of(tmp_path, cfg) == (
        "deploy/templates/x.yaml:6: the rendered text holds the control character #x0000, "
        "which YAML does not allow; use the quote or b64encode filter for such a value"
    )


def test_a_nul_byte_in_a_values_file_is_one_line(tmp_path: Path) -> None:
    values = {"defaults.yml": "a: 1\nb: x\x00y\n"}
    cfg = make_repo(tmp_path, {"x.yaml": CM.format(name="x")}, values=values)
    assert error_of(tmp_path, cfg) == (
        "deploy/values/defaults.yml:2: holds the control character #x0000, which YAML "
        "does not allow; remove it, or write it as \\0 in a double-quoted string"
    )


def test_a_binary_config_file_is_one_line(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / ".commit-train.yml").write_bytes(bytes(range(256)) * 2)
    assert one_error_line(cli_run(repo.root, "status")) == (
        f"error: {repo.root}/.commit-train.yml: is not UTF-8 text; save it as UTF-8 YAML"
    )


def test_a_deeply_nested_config_is_one_line(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / ".commit-train.yml").write_text(
        "environments:\n  staging: " + "[" * 500 + "]" * 500
    )
    assert one_error_line(cli_run(repo.root, "status")) == (
        f"error: {repo.root}/.commit-train.yml: line 2: nested more than 100 levels deep; "
        "flatten it"
    )


def test_a_config_nested_past_yaml_limits_is_one_line(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / ".commit-train.yml").write_text("environments: " + "[" * 5000 + "]" * 5000)
    line = one_error_line(cli_run(repo.root, "status"))
    assert line.startswith(f"error: {repo.root}/.commit-train.yml: line 1")


def test_a_duplicate_key_in_the_config_is_refused_by_name(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    (repo.root / ".commit-train.yml").write_text(
        "version: 1\nenvironments:\n  staging: {}\n  staging: {production: true}\n"
    )
    assert one_error_line(cli_run(repo.root, "status")) == (
        f"error: {repo.root}/.commit-train.yml: line 4: duplicate key 'staging'; keep one of them"
    )


def test_a_duplicate_key_in_a_values_file_is_refused_by_name(tmp_path: Path) -> None:
    values = {"defaults.yml": "db:\n  host: a\n  host: b\n"}
    cfg = make_repo(tmp_path, {"x.yaml": CM.format(name="x")}, values=values)
    assert error_of(tmp_path, cfg) == (
        "deploy/values/defaults.yml:3: duplicate key 'host'; keep one of them"
    )


@pytest.mark.parametrize("name", ["staging\n", "staging\r", " staging", "stag ing", "-x"])
def test_an_environment_name_with_a_trailing_newline_is_refused(name: str) -> None:
    text = f"environments:\n  {name!r}: {{}}\n".replace("'", '"')
    with pytest.raises(ConfigError) as caught:
        config.parse(text)
    assert "not a valid environment name" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0s", "--timeout '0s' is too short: a rollout needs at least 1s"),
        ("0", "--timeout '0' is too short: a rollout needs at least 1s"),
        ("99999999999999999999d", "--timeout '99999999999999999999d' is too long: at most 24h"),
        ("2d", "--timeout '2d' is too long: at most 24h"),
        ("9" * 5000, "--timeout '" + "9" * 5000 + "' is not a duration"),
    ],
)
def test_a_rollout_timeout_out_of_range_is_a_usage_error(
    tmp_path: Path, value: str, problem: str
) -> None:
    repo = shop(tmp_path)
    line = one_error_line(cli_run(repo.root, "apply", "staging", "--timeout", value), code=2)
    assert line.startswith(f"error: {problem}; ")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0s", "kubernetes.rollout-timeout: too short: a rollout needs at least 1s"),
        ("99999999999999999999d", "kubernetes.rollout-timeout: too long: at most 24h"),
    ],
)
def test_a_rollout_timeout_out_of_range_in_the_config_is_refused(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(f"kubernetes: {{rollout-timeout: {value}}}\n")
    assert str(caught.value) == f".commit-train.yml: {problem}"


def test_a_huge_duration_elsewhere_is_one_line(tmp_path: Path) -> None:
    repo = shop(tmp_path)
    line = one_error_line(
        cli_run(repo.root, "lock", "staging", "--reason", "x", "--ttl", "99999999999999999999d"),
        code=2,
    )
    assert line.startswith("error: --ttl '99999999999999999999d' ")
