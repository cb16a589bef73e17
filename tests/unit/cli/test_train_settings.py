"""A bad training setting is refused before anything runs: `graphrec refresh --train` answers with the
setting's name and what is wrong before it takes the lock or syncs (it used to fail only at the train step,
after a sync that takes minutes on a large graph), and `graphrec train`'s options say the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.app import app
from graphrec.learn.train_config import TrainConfig, from_settings
from graphrec.serving.refresh import RefreshOptions

NO_SERVER = {"NEO4J_URI": "bolt://127.0.0.1:1", "COLUMNS": "200"}
"""A port where no Neo4j answers: a command that tried to connect would say so instead."""


def test_settings_become_a_config_and_a_bad_one_a_one_line_error() -> None:
    assert from_settings({"dim": 64, "epochs": 3}) == TrainConfig(dim=64, epochs=3)
    with pytest.raises(ValueError, match=r"^dimm: no such setting \(known: encoder, dim, .*epochs"):
        from_settings({"dimm": 64})
    with pytest.raises(ValueError, match=r"^dim: Input should be a valid integer"):
        from_settings({"dim": "wide"})
    with pytest.raises(ValueError, match=r"^dim: Input should be greater than or equal to 1$"):
        from_settings({"dim": 0})


def test_refresh_options_refuse_a_bad_setting(tmp_path: Path) -> None:
    assert RefreshOptions(work_dir=tmp_path, train={"epochs": 2}).train == {"epochs": 2}
    with pytest.raises(ValueError, match="bad training setting epochz: no such setting"):
        RefreshOptions(work_dir=tmp_path, train={"epochz": 2})


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("epochz=2", "bad training setting epochz: no such setting"),
        ("dim=-1", "dim: Input should be greater"),
    ],
)
def test_refresh_refuses_a_bad_setting_before_connecting(tmp_path: Path, setting: str, said: str) -> None:
    result = CliRunner().invoke(
        app, ["refresh", "--work-dir", str(tmp_path), "--train", setting], env=NO_SERVER
    )
    assert result.exit_code == 1
    assert said in " ".join(result.output.split())
    assert "no Neo4j answers" not in result.output
