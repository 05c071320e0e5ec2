"""The data layer: feature stores, captions and shots, the dataset config, samples and loaders."""
