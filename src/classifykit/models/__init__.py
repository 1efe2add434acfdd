"""Models: a string-named registry of image and text classifiers, pretrained weights, freezing.

The architectures are listed in :mod:`classifykit.models.catalog`; importing this package does not
import torch (each builder's module is imported when a model is built).
"""

from classifykit.models.registry import (
    create_model,
    get_spec,
    list_models,
    model_info,
    preprocessing_for,
    register_model,
)

__all__ = ["create_model", "get_spec", "list_models", "model_info", "preprocessing_for", "register_model"]
