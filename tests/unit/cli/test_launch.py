"""`--nproc N` starts the same command again under torchrun, without the option (so it runs once)."""

from __future__ import annotations

from graphrec.cli.launch import torchrun_command, without_nproc


def test_nproc_relaunches_under_torchrun_without_itself() -> None:
    argv = ["train", "--out", "m", "--nproc", "2", "--epochs", "3", "--nproc=4"]
    assert without_nproc(argv) == ["train", "--out", "m", "--epochs", "3"]
    command = torchrun_command(2, argv)
    assert command[1:3] == ["-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in command
    assert command[-5:] == ["train", "--out", "m", "--epochs", "3"]
