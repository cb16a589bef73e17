"""Dataset readers: one module per source, each producing a `records.Dataset`."""
