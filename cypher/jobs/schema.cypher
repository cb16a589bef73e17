// The refresh lock is one node per job name; the constraint makes MERGE on it safe under concurrency.
// No parameters.
CREATE CONSTRAINT graphrec_lock_name IF NOT EXISTS FOR (l:GraphrecLock) REQUIRE l.name IS UNIQUE;
