"""Learning from the graph: sync to PyG, features, splits, encoders, training, evaluation and baselines."""
