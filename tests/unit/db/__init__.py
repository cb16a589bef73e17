"""Unit tests of graphrec.db."""
