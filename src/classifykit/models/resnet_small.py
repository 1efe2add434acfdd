"""``resnet18-small``: the compact ResNet-18 of the classic custom-dataset (Pokémon) lesson.

Source: dragen1860, "Deep-Learning-with-PyTorch-Tutorials", the Pokémon lesson's ``resnet.py``
(``ResBlk`` / ``ResNet18``): a 3×3 stride-3 stem to 16 channels, then four residual blocks
16→32 (stride 3), 32→64 (stride 3), 64→128 (stride 2), 128→256 (stride 2), each block two 3×3
convolutions with BatchNorm and a 1×1 convolution + BatchNorm shortcut when the width changes.
The layers, strides, paddings and (redundant but harmless) convolution biases are kept as in the
lesson, so results compare with it. One change: the lesson flattens the 256×3×3 map of a 224 px
input into ``Linear(2304, K)``, which works at 224 px only; here global average pooling feeds
``Linear(256, K)``, so any input of at least 3 px works (total stride 108: 224 px -> 3×3 map,
64 px -> 1×1, 28 px -> 1×1).

Parameters: 1,224,645 for ``in_chans=3, num_classes=5`` (1,224,357 for ``in_chans=1``), versus
1,234,885 with the lesson's 224 px flatten head. Forward cost at 224×224×3: 59.9 MFLOPs
(multiply-adds counted as 2).
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlk(nn.Module):
    """Residual block: ``B×ch_in×H×W -> B×ch_out×ceil(H/stride)×ceil(W/stride)`` (for padding 1, k 3)."""

    def __init__(self, ch_in: int, ch_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch_in, ch_out, kernel_size=3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(ch_out)
        self.conv2 = nn.Conv2d(ch_out, ch_out, kernel_size=3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(ch_out)
        # As in the lesson: the shortcut is the identity only when the width is unchanged.
        self.shortcut = (
            nn.Sequential(nn.Conv2d(ch_in, ch_out, kernel_size=1, stride=stride), nn.BatchNorm2d(ch_out))
            if ch_out != ch_in
            else nn.Identity()
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.shortcut(x) + out)


class ResNet18Small(nn.Module):
    """The lesson's ResNet-18 with a global-average-pooling head: ``B×in_chans×H×W -> B×num_classes``."""

    def __init__(self, num_classes: int, in_chans: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, 16, kernel_size=3, stride=3, padding=0),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
        )
        self.layer1 = ResBlk(16, 32, stride=3)
        self.layer2 = ResBlk(32, 64, stride=3)
        self.layer3 = ResBlk(64, 128, stride=2)
        self.layer4 = ResBlk(128, 256, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features: ``B×in_chans×H×W -> B×256``."""
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.pool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


def resnet18_small(num_classes: int, in_chans: int = 3) -> ResNet18Small:
    """Build ``resnet18-small`` (see the module docstring for the source and parameter counts)."""
    return ResNet18Small(num_classes, in_chans)
