// Constraints for graphrec's model bookkeeping (IF NOT EXISTS: safe to run again). No parameters.
// (:GraphrecModel) one node per model version; (:GraphrecActive) the single pointer readers resolve;
// (:GraphrecTimeProfile) one per item with dated interactions, found by the item's id.
CREATE CONSTRAINT graphrec_model_version IF NOT EXISTS FOR (m:GraphrecModel) REQUIRE m.version IS UNIQUE;
CREATE CONSTRAINT graphrec_active_name IF NOT EXISTS FOR (a:GraphrecActive) REQUIRE a.name IS UNIQUE;
CREATE CONSTRAINT graphrec_time_profile_item IF NOT EXISTS FOR (p:GraphrecTimeProfile) REQUIRE p.item IS UNIQUE;
