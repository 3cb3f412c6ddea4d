"""The SLA config: every validation rule (each message names it), the file, the store."""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from flightctl.services.common.errors import ConfigError, InvalidInput
from flightctl.services.sla_breach_detector.config import (
    DEFAULT_CONFIG_PATH,
    ConfigStore,
    SlaConfig,
    check_scrape_rule,
    load_config_file,
    parse_config,
    render_config,
    write_config_file,
)


def metric(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "latency", "type": "gauge", "query": "up", "min": 0, "max": 1.5}
    base.update(overrides)
    return base


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"metrics": [metric()], "settings": {"t_check": 30}}
    base.update(overrides)
    return base


def rejected(raw: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_config(raw)
    return caught.value.message


def test_a_valid_config_round_trips() -> None:
    raw = config(metrics=[metric(), metric(name="ratio", min=-1, max=2)], settings={"t_check": 30.5, "note": "x"})
    parsed = parse_config(copy.deepcopy(raw))
    assert parsed.t_check == 30.5
    assert [m.name for m in parsed.metrics] == ["latency", "ratio"]
    assert parsed.to_dict() == raw


def test_min_equal_to_max_is_allowed() -> None:
    assert parse_config(config(metrics=[metric(min=2, max=2)])).metrics[0].min == 2


@pytest.mark.parametrize("raw", [None, [], "metrics", 3])
def test_the_config_must_be_an_object(raw: object) -> None:
    assert "must be an object with metrics and settings" in rejected(raw)


def test_unknown_top_level_keys_are_rejected() -> None:
    assert "unknown top-level key(s) extra" in rejected(config(extra=1))


@pytest.mark.parametrize("metrics", [None, [], {}, "up"])
def test_metrics_must_be_a_non_empty_list(metrics: object) -> None:
    raw = config()
    if metrics is None:
        del raw["metrics"]
    else:
        raw["metrics"] = metrics
    assert rejected(raw) == "metrics must be a non-empty list"


def test_a_metric_must_be_an_object() -> None:
    assert rejected(config(metrics=["up"])).startswith("metrics[0] must be an object")


def test_unknown_keys_in_a_metric_are_rejected() -> None:
    message = rejected(config(metrics=[metric(labels={"a": "b"})]))
    assert message.startswith("metrics[0] has unknown key(s) labels")


@pytest.mark.parametrize("name", [None, "", "   ", 3, ["a"]])
def test_name_must_be_a_non_empty_string(name: object) -> None:
    raw = metric(name=name)
    if name is None:
        del raw["name"]
    assert rejected(config(metrics=[raw])) == "metrics[0].name must be a non-empty string"


def test_names_must_be_unique() -> None:
    message = rejected(config(metrics=[metric(), metric(query="x")]))
    assert "metrics[1] (latency): metric names must be unique" in message


@pytest.mark.parametrize("kind", [None, "counter", "GAUGE", "histogram", 1])
def test_type_must_be_gauge(kind: object) -> None:
    raw = metric(type=kind)
    if kind is None:
        del raw["type"]
    assert (
        rejected(config(metrics=[raw]))
        == 'metrics[0] (latency).type must be "gauge" (only gauge metrics are supported)'
    )


@pytest.mark.parametrize("query", [None, "", "  ", 5])
def test_query_must_be_a_non_empty_string(query: object) -> None:
    raw = metric(query=query)
    if query is None:
        del raw["query"]
    assert rejected(config(metrics=[raw])) == "metrics[0] (latency).query must be a non-empty PromQL string"


@pytest.mark.parametrize("bound", ["min", "max"])
def test_bounds_are_required(bound: str) -> None:
    raw = metric()
    del raw[bound]
    assert rejected(config(metrics=[raw])) == f"metrics[0] (latency).{bound} is required and must be a finite number"


@pytest.mark.parametrize("value", [True, False, "1", None, math.nan, math.inf, -math.inf, 10**400, [1]])
@pytest.mark.parametrize("bound", ["min", "max"])
def test_bounds_must_be_finite_numbers(bound: str, value: object) -> None:
    message = rejected(config(metrics=[metric(**{bound: value})]))
    assert message == f"metrics[0] (latency).{bound} must be a finite number"


def test_min_must_not_exceed_max() -> None:
    assert rejected(config(metrics=[metric(min=5, max=1.5)])) == "metrics[0] (latency): min (5) must be <= max (1.5)"


def test_the_failing_metric_is_named_by_index() -> None:
    message = rejected(config(metrics=[metric(), metric(name="b", max=-1)]))
    assert message.startswith("metrics[1] (b):")


@pytest.mark.parametrize("settings", [None, [], "t_check"])
def test_settings_must_be_an_object(settings: object) -> None:
    raw = config(settings=settings)
    if settings is None:
        del raw["settings"]
    assert rejected(raw) == "settings must be an object with t_check"


@pytest.mark.parametrize("t_check", [None, 0, -5, True, "30", math.nan, math.inf])
def test_t_check_must_be_a_positive_number(t_check: object) -> None:
    settings = {} if t_check is None else {"t_check": t_check}
    assert rejected(config(settings=settings)) == "settings.t_check must be a positive number of seconds"


def test_extra_settings_must_be_plain_json() -> None:
    assert "settings values must be plain JSON values" in rejected(config(settings={"t_check": 30, "x": math.nan}))


def test_extra_settings_cannot_be_changed_through_the_config() -> None:
    parsed = parse_config(config(settings={"t_check": 30, "tags": ["a"]}))
    parsed.to_dict()["settings"]["tags"].append("b")
    assert parsed.to_dict()["settings"]["tags"] == ["a"]
    with pytest.raises(TypeError):
        parsed.extra_settings["tags"] = []  # type: ignore[index]


def test_scrape_rule_accepts_five_times_the_scrape_interval() -> None:
    check_scrape_rule(parse_config(config(settings={"t_check": 25})), 5.0)


def test_scrape_rule_names_the_rule_and_the_numbers() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_scrape_rule(parse_config(config(settings={"t_check": 24.5})), 5.0)
    assert caught.value.message == (
        "settings.t_check >= 5 * T_scrape is violated: t_check is 24.5s but Prometheus scrapes "
        "every 5s, so t_check must be at least 25s"
    )


# -- the file -----------------------------------------------------------------------------------


def test_the_shipped_default_config_is_valid_and_quiet_by_design() -> None:
    parsed = load_config_file(DEFAULT_CONFIG_PATH)
    assert parsed.t_check == 30
    check_scrape_rule(parsed, 5.0)  # the local Prometheus scrapes every 5 s
    names = {m.name for m in parsed.metrics}
    assert {"http_p95_latency_seconds", "http_5xx_ratio", "collector_seconds_since_success"} <= names
    assert all(m.min == 0 for m in parsed.metrics)


def test_a_written_config_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    parsed = parse_config(config(settings={"t_check": 60, "owner": "ops"}))
    write_config_file(path, parsed)
    assert load_config_file(path) == parsed
    assert yaml.safe_load(path.read_text())["settings"] == {"t_check": 60, "owner": "ops"}
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temporary file left


def test_the_file_is_the_text_pure_python_yaml_writes() -> None:
    # Written with libyaml's dumper when PyYAML has it: the same text byte for byte.
    parsed = parse_config(
        config(
            metrics=[metric(name="latência", query='sum(rate(x{a="é"}[5m])) > 0.5'), metric(name="b", query="up")],
            settings={"t_check": 60, "owner": "ops: night", "tags": ["a", 1.5, None]},
        )
    )
    header = "# SLA config, written by sla-breach-detector (POST /sla/config).\n"
    expected = yaml.safe_dump(parsed.to_dict(), sort_keys=False, allow_unicode=True, width=1000)
    assert render_config(parsed) == header + expected
    assert render_config(load_config_file(DEFAULT_CONFIG_PATH)).startswith(header + "metrics:\n- name: ")


def test_writing_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old")
    os.chmod(path, 0o600)
    write_config_file(path, parse_config(config()))
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old")
    unserialisable = SlaConfig(metrics=(), t_check=30, extra_settings={"x": object()})
    with pytest.raises(yaml.YAMLError):
        write_config_file(path, unserialisable)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_a_missing_file_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_file(tmp_path / "absent.yaml")
    assert str(caught.value).startswith("SLA_CONFIG_PATH ")
    assert "does not exist" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("metrics: [\n  - name: a\n  bad", "is not valid YAML"),
        ("metrics: []\nsettings: {t_check: 30}\n", "is invalid: metrics must be a non-empty list"),
        ("", "is invalid: the config must be an object"),
    ],
)
def test_an_invalid_file_is_a_one_line_config_error(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"SLA_CONFIG_PATH {path}")
    assert reason in message
    assert "\n" not in message


# -- the store ---------------------------------------------------------------------------------


def test_the_store_writes_before_it_swaps_and_tells_listeners(tmp_path: Path) -> None:
    written: list[SlaConfig] = []
    seen: list[SlaConfig] = []
    first, second = parse_config(config()), parse_config(config(settings={"t_check": 90}))
    store = ConfigStore(tmp_path / "c.yaml", first, write=lambda _path, c: written.append(c))
    store.subscribe(seen.append)
    held = store.current()  # what a running check holds
    store.replace(second)
    assert written == [second] and seen == [second]
    assert store.current() is second
    assert held is first and held.t_check == 30


def test_the_store_keeps_the_old_config_when_the_write_fails(tmp_path: Path) -> None:
    def failing(_path: Path, _config: SlaConfig) -> None:
        raise OSError(28, "No space left on device")

    first = parse_config(config())
    store = ConfigStore(tmp_path / "c.yaml", first, write=failing)
    with pytest.raises(OSError):
        store.replace(parse_config(config(settings={"t_check": 90})))
    assert store.current() is first
