"""EfficientNet-Lite0 from timm: TF "SAME" padding, the packaged weights key for key, runs saved before, a real photo."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from classifykit.engine.checkpoint import load_weights
from classifykit.models import create_model, preprocessing_for
from classifykit.models.catalog import LITE0_MEAN, LITE0_STD
from classifykit.models.efficientnet_lite import lite0_state_dict, lite0_weights_path, timm_key

# classifykit's own EfficientNet-Lite0 before timm: its state_dict keys and shapes, and the packaged key each held.
FORMER = json.loads((Path(__file__).parent / "data" / "lite0_former_keys.json").read_text())["keys"]


@pytest.mark.parametrize("size", [224, 225, 7])
@pytest.mark.parametrize("layer", ["conv_stem", "blocks.2.0.conv_dw"])
def test_same_padding_matches_tensorflow(size, layer):
    """TF SAME, stride 2: total pad = (ceil(n/2) - 1)·2 + k - n, the extra pixel at the bottom/right."""
    torch.manual_seed(0)
    conv = create_model("efficientnet-lite0", 3).get_submodule(layer)
    k = conv.kernel_size[0]
    total = max((math.ceil(size / 2) - 1) * 2 + k - size, 0)
    pads = [total // 2, total - total // 2] * 2
    x = torch.randn(1, conv.in_channels, size, size)
    expected = F.conv2d(F.pad(x, pads), conv.weight, stride=2, groups=conv.groups)
    with torch.no_grad():
        out = conv(x)
    assert out.shape[-2:] == ((size + 1) // 2, (size + 1) // 2)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    "former, timm",
    [
        ("stem.conv.weight", "conv_stem.weight"),
        ("stem.bn.running_var", "bn1.running_var"),
        ("blocks.0.dw.conv.weight", "blocks.0.0.conv_dw.weight"),
        ("blocks.0.project.bn.bias", "blocks.0.0.bn2.bias"),
        ("blocks.3.expand.conv.weight", "blocks.2.0.conv_pw.weight"),
        ("blocks.3.expand.bn.num_batches_tracked", "blocks.2.0.bn1.num_batches_tracked"),
        ("blocks.15.dw.bn.bias", "blocks.6.0.bn2.bias"),
        ("blocks.14.project.conv.weight", "blocks.5.3.conv_pwl.weight"),
        ("blocks.15.project.bn.weight", "blocks.6.0.bn3.weight"),
        ("head.conv.weight", "conv_head.weight"),
        ("head.bn.running_mean", "bn2.running_mean"),
        ("classifier.bias", "classifier.bias"),
    ],
)
def test_former_key_rules(former, timm):
    assert timm_key(former) == timm
    assert timm_key(timm) == timm  # timm's own names pass through


def test_architecture_size():
    model = create_model("efficientnet-lite0", 1000)
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    assert len(model.state_dict()) == 296
    assert [len(stage) for stage in model.blocks] == [1, 2, 2, 3, 3, 4, 1]  # 16 MBConv blocks


def test_a_run_saved_before_timm_loads_strictly(tmp_path):
    """A model.safetensors with the former module names (keys and shapes from main before timm) loads unchanged."""
    torch.manual_seed(0)
    former = {name: torch.randn(shape) if shape else torch.tensor(7) for _, name, shape in FORMER}
    former["classifier.weight"], former["classifier.bias"] = torch.randn(5, 1280), torch.randn(5)
    save_file(former, str(tmp_path / "model.safetensors"))
    model = load_weights(create_model("efficientnet-lite0", 5), tmp_path / "model.safetensors")
    own = model.state_dict()
    assert sorted(timm_key(k) for k in former) == sorted(own)
    assert all(torch.equal(own[timm_key(k)], v) for k, v in former.items())


@pytest.mark.integration
def test_packaged_weights_map_key_for_key():
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    mapped = lite0_state_dict()
    own = create_model("efficientnet-lite0", 1000).state_dict()
    assert len(state) == len(mapped) == 296 and list(mapped) == list(own)
    assert all(a.shape == own[k].shape and torch.equal(a, b) for (k, a), b in zip(mapped.items(), state.values()))
    # The same tensor for every key as classifykit's former mapping (main's lite0_key) chose.
    assert all(torch.equal(mapped[timm_key(name)], state[packaged]) for packaged, name, _ in FORMER)


@pytest.mark.integration
def test_same_logits_as_the_reference_implementation():
    """timm's model against efficientnet_lite_pytorch's (installed by make as the reference) on the packaged weights."""
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    reference = EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(state)
    ours = create_model("efficientnet-lite0", 1000, pretrained="efficientnet-lite0")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference.eval()(x), atol=1e-6, rtol=0)  # measured: 0.0


@pytest.mark.integration
def test_pretrained_lite0_calls_chelsea_a_cat():
    """scikit-image's chelsea photo (451×300, a tabby cat): ImageNet class 285 "Egyptian cat" on the whole
    photo, and the three cat classes on the weights' evaluation crop (TF: 224/256 of the shorter side, bicubic)."""
    from PIL import Image
    from skimage.data import chelsea
    from torchvision.transforms import InterpolationMode, v2

    model = create_model("efficientnet-lite0", 1000, pretrained="efficientnet-lite0").eval()

    def top3(*steps):
        x = v2.Compose([v2.PILToTensor(), *steps, v2.ToDtype(torch.float32, scale=True),
                        v2.Normalize(LITE0_MEAN, LITE0_STD)])(Image.fromarray(chelsea()))
        with torch.no_grad():
            return model(x[None]).softmax(dim=1)[0].topk(3)

    whole = top3(v2.Resize((224, 224), antialias=True))
    assert whole.indices.tolist() == [285, 282, 281]  # Egyptian cat, tiger cat, tabby
    assert whole.values[0] > 0.75
    cfg = preprocessing_for("efficientnet-lite0", "efficientnet-lite0")
    crop = top3(v2.Resize(math.floor(cfg.input_size / cfg.crop_pct), InterpolationMode.BICUBIC, antialias=True),
                v2.CenterCrop(cfg.input_size))
    assert sorted(crop.indices.tolist()) == [281, 282, 285] and crop.values.sum() > 0.9
