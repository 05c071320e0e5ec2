"""Application workflows: each composes the training, inference and submission layers into one
user-facing job (``run``: train, predict, score and submit). The CLI commands import these lazily,
so ``import osgnet_bench`` stays free of torch; this package imports nothing itself."""
