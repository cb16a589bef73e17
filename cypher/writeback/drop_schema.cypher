// Drop the constraints on graphrec's bookkeeping nodes (after every version was removed). No parameters.
DROP CONSTRAINT graphrec_model_version IF EXISTS;
DROP CONSTRAINT graphrec_active_name IF EXISTS;
DROP CONSTRAINT graphrec_time_profile_item IF EXISTS;
