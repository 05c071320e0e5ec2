"""Everything that needs torch: feature stores, datasets, the OSGNet model, trainer and inferencer."""
