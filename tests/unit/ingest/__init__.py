"""Unit tests of graphrec.ingest."""
