// Every model version, newest first, with its status and whether it is the active one. No parameters.
OPTIONAL MATCH (a:GraphrecActive {name: 'active'})
MATCH (m:GraphrecModel)
RETURN m.version AS version, m.status AS status, m.created AS created, m.dimensions AS dimensions,
       m.encoder AS encoder, m.users AS users, m.items AS items, m.property AS property,
       m.userIndex AS userIndex, m.itemIndex AS itemIndex, m.fingerprint AS fingerprint,
       m.metrics AS metrics, m.source AS source, coalesce(m.itemsInferred, 0) AS itemsInferred,
       m.version = a.version AS active
ORDER BY version DESC;
