"""Losses (paper eq. 1 and 3), batches, the trainer, checkpoints and data parallelism."""
