// Drop index $indexName if it exists.
DROP INDEX $indexName IF EXISTS;
