"""The `graphrec` command line."""

from graphrec.cli.app import app, main

__all__ = ["app", "main"]
