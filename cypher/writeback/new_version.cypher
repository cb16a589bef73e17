// Register a new model version (status 'writing') numbered one past the highest so far.
// $fingerprint: string, $dimensions: int, $encoder: string, $metrics: JSON string, $source: string,
// $config: JSON string. Returns the new version number.
OPTIONAL MATCH (old:GraphrecModel)
WITH coalesce(max(old.version), 0) + 1 AS version
CREATE (m:GraphrecModel {
  version: version,
  created: datetime(),
  fingerprint: $fingerprint,
  dimensions: $dimensions,
  encoder: $encoder,
  metrics: $metrics,
  config: $config,
  source: $source,
  property: 'embedding_v' + toString(version),
  itemIndex: 'graphrec_item_v' + toString(version),
  status: 'writing'
})
RETURN version;
