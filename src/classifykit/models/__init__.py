"""Models: a string-named registry of image (and text) classifiers, pretrained weights, freezing.

Importing this package registers every built-in architecture (each module registers itself
with :func:`register_model`).
"""

from classifykit.models import efficientnet_lite, ngram, resnet_small, rnn, small_cnn, torchvision_models
from classifykit.models.registry import create_model, get_spec, list_models, model_info, register_model

__all__ = [
    "create_model",
    "efficientnet_lite",
    "get_spec",
    "list_models",
    "model_info",
    "ngram",
    "register_model",
    "resnet_small",
    "rnn",
    "small_cnn",
    "torchvision_models",
]
