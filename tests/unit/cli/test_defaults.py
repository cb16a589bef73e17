"""CLI options take their defaults from where the library declares them, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.learn.sync import SyncOptions
from graphrec.learn.train_config import TrainConfig
from graphrec.serving.context import DEFAULT_SEASON_WEIGHT
from graphrec.serving.health import HealthOptions
from graphrec.serving.refresh import RefreshOptions
from graphrec.serving.vector_index import IndexOptions
from graphrec.serving.writeback import WritebackOptions

CONFIG = {name: field.default for name, field in TrainConfig.model_fields.items()}
OWNED: dict[str, dict[str, Any]] = {
    "train": CONFIG,
    "evaluate": CONFIG,
    "sync": {"hops": SyncOptions.hops, "batch_size": SyncOptions.batch_size},
    "writeback": {
        "batch_size": WritebackOptions.batch_size,
        "concurrency": WritebackOptions.concurrency,
        "keep": WritebackOptions.keep,
        "activate": WritebackOptions.activate,
        "hnsw_m": IndexOptions.m,
        "ef_construction": IndexOptions.ef_construction,
        "quantization": IndexOptions.quantization,
        "index_timeout": IndexOptions.timeout,
    },
    "refresh": {
        "keep": WritebackOptions.keep,
        "batch_size": WritebackOptions.batch_size,
        "index_timeout": IndexOptions.timeout,
        "lock_ttl": RefreshOptions.lock_ttl,
        "warm_start": RefreshOptions.warm_start,
        "warm_start_epochs": RefreshOptions.warm_start_epochs,
    },
    "embed": {"batch_size": WritebackOptions.batch_size},
    "recommend": {"season_weight": DEFAULT_SEASON_WEIGHT},
    "report": {"users": HealthOptions.users, "k": HealthOptions.k, "seed": HealthOptions.seed},
}
"""Per command, the options whose default the library owns, and that default."""


def _defaults(command: str) -> dict[str, Any]:
    """The default each option of `command` resolves to when the user does not give it."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    context = click_command.make_context(command, [], resilient_parsing=True)
    return {param.name: param.get_default(context) for param in click_command.params}


@pytest.mark.parametrize("command", sorted(OWNED))
def test_options_default_to_the_library_defaults(command: str) -> None:
    defaults = _defaults(command)
    owned = {name: value for name, value in OWNED[command].items() if name in defaults}
    assert owned, f"{command} has none of the options it is said to share"
    for name, value in owned.items():
        # None leaves the choice to the library (e.g. `--lr`: "default: the trainer's").
        assert defaults[name] in (value, None), f"{command} --{name}: {defaults[name]!r}, library: {value!r}"


@pytest.mark.parametrize(("command", "needed"), [("train", {"out"}), ("evaluate", set())])
def test_training_options_are_optional(command: str, needed: set[str]) -> None:
    """An option left to the library (None: "the trainer's") must not become one the user has to give."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    assert {param.name for param in click_command.params if param.required} == needed


def test_training_options_are_the_config_defaults_not_copies() -> None:
    defaults = _defaults("train")
    shared = ("encoder", "dim", "layers", "epochs", "mode", "device", "seed")
    assert {name: defaults[name] for name in shared} == {name: CONFIG[name] for name in shared}
    assert [defaults[name] for name in ("lr", "loss", "margin", "batch_size")] == [None] * 4


def test_a_changed_config_default_reaches_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TrainConfig.model_fields["dim"], "default", 48)
    assert _defaults("train")["dim"] == 48
    assert _defaults("evaluate")["dim"] == 48


def test_help_shows_the_config_defaults() -> None:
    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("dim", "epochs", "encoder", "mode", "device", "seed"):
        assert f"[default: {CONFIG[name]}]" in result.stdout, name
    assert CONFIG["layers"] is None  # the depth is resolved from the graph, and the help says so
    assert "it follows the graph's size" in result.stdout
