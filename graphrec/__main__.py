"""Run graphrec as `python -m graphrec`."""

from graphrec.cli.app import main

main()
