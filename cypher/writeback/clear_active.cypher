// Delete the active-version pointer: readers fall back to popularity until the next switch. No parameters.
MATCH (a:GraphrecActive)
DELETE a;
