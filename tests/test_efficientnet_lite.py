"""EfficientNet-Lite0: TF "SAME" padding, the key mapping onto the packaged weights, a real photo."""

import pytest
import torch
import torch.nn.functional as F

from classifykit.models import create_model
from classifykit.models.efficientnet_lite import (
    LITE0_MEAN,
    LITE0_STD,
    Conv2dSame,
    EfficientNetLite,
    lite0_key,
    lite0_weights_path,
)


@pytest.mark.parametrize("size, k, pads", [(224, 3, (0, 1)), (224, 5, (1, 2)), (225, 3, (1, 1)), (7, 5, (2, 2))])
def test_same_padding_matches_tensorflow(size, k, pads):
    """TF SAME, stride 2: total pad = (ceil(n/2) - 1)·2 + k - n, the extra pixel at the bottom/right."""
    torch.manual_seed(0)
    conv = Conv2dSame(2, 4, k, stride=2)
    x = torch.randn(1, 2, size, size)
    expected = F.conv2d(F.pad(x, [pads[0], pads[1], pads[0], pads[1]]), conv.weight, stride=2)
    out = conv(x)
    assert out.shape[-2:] == ((size + 1) // 2, (size + 1) // 2)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    "theirs, ours",
    [
        ("_conv_stem.weight", "stem.conv.weight"),
        ("_bn0.running_var", "stem.bn.running_var"),
        ("_blocks.0._depthwise_conv.weight", "blocks.0.dw.conv.weight"),
        ("_blocks.3._expand_conv.weight", "blocks.3.expand.conv.weight"),
        ("_blocks.3._bn0.num_batches_tracked", "blocks.3.expand.bn.num_batches_tracked"),
        ("_blocks.15._bn1.bias", "blocks.15.dw.bn.bias"),
        ("_blocks.15._project_conv.weight", "blocks.15.project.conv.weight"),
        ("_blocks.15._bn2.weight", "blocks.15.project.bn.weight"),
        ("_conv_head.weight", "head.conv.weight"),
        ("_bn1.running_mean", "head.bn.running_mean"),
        ("_fc.bias", "classifier.bias"),
    ],
)
def test_key_rules(theirs, ours):
    assert lite0_key(theirs) == ours


def test_unknown_key_is_refused():
    with pytest.raises(KeyError, match="_blocks.0._se_reduce.weight"):
        lite0_key("_blocks.0._se_reduce.weight")


def test_architecture_size():
    model = EfficientNetLite(1000)
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    assert len(model.state_dict()) == 296
    assert len(model.blocks) == 16


@pytest.mark.integration
def test_key_mapping_covers_all_296_packaged_tensors():
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    assert len(state) == 296
    own = EfficientNetLite(1000).state_dict()
    mapped = {lite0_key(k): v for k, v in state.items()}
    assert len(mapped) == 296 and set(mapped) == set(own)
    assert all(mapped[k].shape == own[k].shape for k in own)


@pytest.mark.integration
def test_same_logits_as_the_reference_implementation():
    """Our module against efficientnet_lite_pytorch's (installed by make as the reference) on the packaged weights."""
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    reference = EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(state)
    ours = create_model("efficientnet-lite0", 1000, pretrained="efficientnet-lite0")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), reference.eval()(x), atol=1e-5, rtol=1e-5)


@pytest.mark.integration
def test_pretrained_lite0_calls_chelsea_an_egyptian_cat():
    """scikit-image's chelsea photo (a tabby cat) -> ImageNet class 285, "Egyptian cat"."""
    from PIL import Image
    from skimage.data import chelsea
    from torchvision.transforms.v2 import functional as TF

    image = Image.fromarray(chelsea()).resize((224, 224), Image.BILINEAR)
    x = TF.normalize(TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True), LITE0_MEAN, LITE0_STD)
    model = create_model("efficientnet-lite0", 1000, pretrained="efficientnet-lite0").eval()
    with torch.no_grad():
        probs = model(x[None]).softmax(dim=1)[0]
    top = probs.topk(3)
    assert top.indices.tolist() == [285, 282, 281]  # Egyptian cat, tiger cat, tabby
    assert top.values[0] > 0.75
