"""The training step of `graphrec refresh --nproc N`, as one rank of a torchrun run (not a user command).

`graphrec.serving.refresh.train_in_processes` starts `torchrun --nproc-per-node N -m
graphrec.serving.refresh_train --sync FILE --settings FILE --out DIR`: every rank loads the sync the refresh
saved, joins the process group, and runs `train_model` with it; rank 0 writes the model directory that the
refresh then writes back.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from graphrec.learn import distributed
from graphrec.learn.sync import load_sync
from graphrec.serving.refresh import RefreshOptions, train_model


def main() -> None:
    """Parse the arguments the refresh passed, train as this rank, leave the group."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sync", type=Path, required=True, help="the refresh's saved sync")
    parser.add_argument(
        "--settings", type=Path, required=True, help="JSON: train, valid_share, show_progress"
    )
    parser.add_argument("--out", type=Path, required=True, help="the model directory rank 0 writes")
    args = parser.parse_args()
    settings = json.loads(args.settings.read_text())
    options = RefreshOptions(
        work_dir=args.out.parent,
        train=settings["train"],
        valid_share=settings["valid_share"],
        show_progress=settings["show_progress"],
    )
    dist = distributed.start(str(options.train.get("device", "cpu")))
    try:
        train_model(load_sync(args.sync), options, args.out, dist=dist)
    finally:
        distributed.stop(dist)


if __name__ == "__main__":
    main()
