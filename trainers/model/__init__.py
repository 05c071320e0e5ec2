"""The OSGNet network: encoders, bidirectional masked Mamba, FPN, heads and losses.

Start from ``trainers.config.load_model_config`` (an official YAML) and ``OSGNet``; checkpoints load with
``load_checkpoint_into``. docs/model.md describes the architecture with shapes.
"""

from trainers.model.checkpoint import convert_checkpoint, load_checkpoint_into
from trainers.model.config import ModelConfig, Quirks
from trainers.model.osgnet import OSGNet

__all__ = ["ModelConfig", "OSGNet", "Quirks", "convert_checkpoint", "load_checkpoint_into"]
