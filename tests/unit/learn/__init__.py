"""Unit tests of graphrec.learn."""
