"""Synthetic datasets in the real formats, with a planted, learnable grounding signal."""

from trainers.synth.generate import SynthOptions, SynthResult, generate_dataset

__all__ = ["SynthOptions", "SynthResult", "generate_dataset"]
