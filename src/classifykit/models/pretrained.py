"""``pretrained_preprocessing``: the preprocessing of ``--pretrained`` weights as a plain dict.

Kept for the callers written before :func:`classifykit.models.registry.preprocessing_for`, which
returns the same facts as a :class:`~classifykit.models.catalog.PretrainedCfg`.
"""

from __future__ import annotations

from classifykit.models.registry import cfg_dict, preprocessing_for


def pretrained_preprocessing(source: str | None, model_name: str) -> dict | None:
    """Input preprocessing the weights ``source`` expect for ``model_name``, or None when ``source`` is None.

    Returns ``{"mean": [r, g, b], "std": [r, g, b], "input_size": pixels, "crop_pct": share,
    "interpolation": "bilinear" | "bicubic", "in_chans": 3}`` on 0–1 pixel values (grey images are
    replicated to 3 channels); see :func:`~classifykit.models.registry.preprocessing_for`.

    Raises:
        ClassifykitError: unknown model name or weights name.
    """
    return cfg_dict(preprocessing_for(model_name, source))
