"""Run graphrec as `python -m graphrec`."""

from graphrec.cli import main

main()
