"""Training OSGNet. Where things are:

* ``launch``: where a training run starts: the checks before anything is written, the run
  directory's lock, the workers started in-process or under torchrun (``train_session``);
* ``__main__``: the worker entry under torchrun (``python -m trainers.train``);
* ``loop``: the training loop (``Trainer``), seeds and determinism;
* ``batches``: which batches each rank trains on, and skipping those a resumed run has seen;
* ``optimisation``: AdamW with the reference's decay split, warm-up + cosine schedule, EMA;
* ``validation``: the ground truth and metrics of the validation split;
* ``checkpoints``: where a checkpoint is written and read: training states, official exports,
  checksums, the commit order of a save and recovery after a kill;
* ``run_dir``: the run directory: its files, traces of an earlier run, the lock, the log;
* ``faults``: named fault points that tests hook into.

Process groups, collectives and the torchrun launcher are in ``trainers.distributed``.
"""
