"""Unit tests of graphrec.api."""
