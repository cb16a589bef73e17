// Create or update users. $rows: [{id: string, props: map of (already mapped) feature properties}].
// MERGE on the id keeps loading idempotent; SET += updates features without touching other properties.
UNWIND $rows AS row
MERGE (u:`User` {`id`: row.id})
SET u += row.props
RETURN count(*) AS written;
