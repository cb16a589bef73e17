"""Unit tests of graphrec.cli."""
