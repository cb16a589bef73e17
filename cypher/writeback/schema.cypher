// Constraints for graphrec's model bookkeeping (IF NOT EXISTS: safe to run again). No parameters.
// (:GraphrecModel) one node per model version; (:GraphrecActive) the single pointer readers resolve.
CREATE CONSTRAINT graphrec_model_version IF NOT EXISTS FOR (m:GraphrecModel) REQUIRE m.version IS UNIQUE;
CREATE CONSTRAINT graphrec_active_name IF NOT EXISTS FOR (a:GraphrecActive) REQUIRE a.name IS UNIQUE;
