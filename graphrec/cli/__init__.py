"""The `graphrec` command line: `app` (typer) and `main` (the console script's entry point)."""

from graphrec.cli.app import app, main

__all__ = ["app", "main"]
