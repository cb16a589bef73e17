"""Unit tests of graphrec.serving."""
