"""The training loop and everything around it: optimiser, schedule, EMA, checkpoints, DDP."""
