"""AppConfig from and to Flower's run_config."""

from __future__ import annotations

import json

import pytest

from fedprov.apps.cifar10.config import AppConfig
from fedprov.errors import ConfigurationError


def test_config_run_config_round_trip() -> None:
    config = AppConfig(num_server_rounds=7, lr=0.05, partition="iid", resume=True)
    assert AppConfig.from_run_config(config.to_run_config()) == config


def test_config_coerces_toml_values() -> None:
    config = AppConfig.from_run_config(
        {"lr": 1, "batch-size": 64.0, "resume": "true", "seed": "3", "other-key": "x"}
    )
    assert config.lr == 1.0
    assert isinstance(config.lr, float)
    assert config.batch_size == 64
    assert config.resume is True
    assert config.seed == 3


def test_config_keys_match_pyproject() -> None:
    import tomllib
    from pathlib import Path

    import fedprov.apps.cifar10 as package

    pyproject = Path(package.__file__).parent / "flower_app" / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["tool"]["flwr"]["app"]["config"]
    assert tuple(declared) == AppConfig.keys()
    assert AppConfig.from_run_config(declared) == AppConfig()


def test_config_json_is_canonical() -> None:
    text = AppConfig().to_json()
    assert json.loads(text)["num-clients"] == 5
    assert " " not in text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr": "fast"}, "run-config lr='fast' is not a valid float"),
        ({"batch-size": 2.5}, "run-config batch-size=2.5 is not a valid int"),
        ({"resume": "maybe"}, "run-config resume='maybe' is not a valid bool"),
        ({"model": "resnet"}, "model must be one of cnn, mobilenetv2"),
        ({"num-server-rounds": 0}, "num-server-rounds must be at least 1"),
        ({"skip-rounds": "two"}, "skip-rounds='two' is not a comma-separated list"),
    ],
    ids=[
        "text-lr",
        "fractional-batch",
        "bad-bool",
        "unknown-model",
        "zero-rounds",
        "skip",
    ],
)
def test_config_invalid_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AppConfig.from_run_config(values)
