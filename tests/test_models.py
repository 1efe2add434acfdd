"""The model registry and the built-in architectures: shapes, parameter counts, errors."""

import math
import subprocess
import sys

import pytest
import torch

from classifykit.errors import ClassifykitError
from classifykit.models import catalog, create_model, list_models, model_info, preprocessing_for, registry
from classifykit.models.catalog import IMAGENET_MEAN, IMAGENET_STD, LITE0_MEAN, LITE0_STD, NamedWeights, PretrainedCfg
from classifykit.models.flops import forward_flops

IMAGE_MODELS = list_models("image")


def test_registry_lists_every_builtin_architecture():
    assert IMAGE_MODELS == [
        "convnext_tiny",
        "efficientnet-lite0",
        "efficientnet_b0",
        "mobilenet_v3_small",
        "resnet18",
        "resnet18-small",
        "resnet34",
        "resnet50",
        "smallcnn",
    ]
    assert set(list_models()) == set(IMAGE_MODELS) | set(list_models("text"))


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("in_chans", [1, 3])
def test_every_image_model_gives_batch_by_classes_logits(name, in_chans):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, in_chans=in_chans).eval()
    info = model_info(name)
    sizes = [28, 64] + ([224] if name == "efficientnet-lite0" else [])
    with torch.no_grad():
        for size in sizes:
            size = max(size, info["min_input_size"])
            logits = model(torch.randn(2, in_chans, size, size))
            assert logits.shape == (2, 7)
            assert torch.isfinite(logits).all()
    assert model.model_name == name
    assert model.get_submodule(model.classifier_name).out_features == 7
    assert model.get_submodule(model.stem_conv_name).in_channels == in_chans
    if info["min_input_size"] > 28:  # convnext_tiny: its four downsamplings leave nothing of 28 px
        with pytest.raises(RuntimeError):
            model(torch.randn(2, in_chans, 28, 28))


def test_resnet18_small_parameter_counts_and_lesson_layout():
    """Counts as in the module docstring: 1,224,645 (RGB, 5 classes) and 1,224,357 (grey)."""
    rgb = create_model("resnet18-small", 5, in_chans=3)
    grey = create_model("resnet18-small", 5, in_chans=1)
    assert sum(p.numel() for p in rgb.parameters()) == 1_224_645
    assert sum(p.numel() for p in grey.parameters()) == 1_224_357
    # The lesson's stem and block strides: 3, then 3, 3, 2, 2.
    assert rgb.stem[0].stride == (3, 3) and rgb.stem[0].out_channels == 16 and rgb.stem[0].padding == (0, 0)
    strides = [getattr(rgb, f"layer{i}").conv1.stride[0] for i in range(1, 5)]
    widths = [getattr(rgb, f"layer{i}").conv2.out_channels for i in range(1, 5)]
    assert strides == [3, 3, 2, 2] and widths == [32, 64, 128, 256]
    # 224 px leaves the lesson's 3×3 map before pooling.
    x = rgb.stem(torch.randn(1, 3, 224, 224))
    x = rgb.layer4(rgb.layer3(rgb.layer2(rgb.layer1(x))))
    assert x.shape == (1, 256, 3, 3)


def test_smallcnn_parameter_count_and_flops():
    model = create_model("smallcnn", 10, in_chans=1)
    assert sum(p.numel() for p in model.parameters()) == 278_890
    assert forward_flops(model, 28, 1) == 43_806_208
    assert model.training  # forward_flops restores the mode


def test_torchvision_grey_stem_keeps_geometry():
    model = create_model("resnet18", 4, in_chans=1)
    assert model.conv1.in_channels == 1
    assert (model.conv1.out_channels, model.conv1.kernel_size, model.conv1.stride, model.conv1.padding) == (
        64,
        (7, 7),
        (2, 2),
        (3, 3),
    )
    assert model.fc.out_features == 4


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(ClassifykitError) as e:
        create_model("resnet18_small", 3)
    msg = str(e.value)
    assert msg.startswith("--model 'resnet18_small': no such architecture. Did you mean 'resnet18-small'? Available: ")
    assert all(name in msg for name in list_models())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "--model smallcnn: need at least 2 classes to train a classifier, got 1."),
        ({"num_classes": 3, "in_chans": 2}, "--channels 2: image models take 1 (grey) or 3 (RGB) channels."),
    ],
)
def test_bad_class_or_channel_count(kwargs, message):
    with pytest.raises(ClassifykitError) as e:
        create_model("smallcnn", **kwargs)
    assert str(e.value) == message


def test_model_info_of_an_image_model():
    info = model_info("efficientnet-lite0")
    assert info == {
        "name": "efficientnet-lite0",
        "task": "image",
        "input_size": 224,
        "min_input_size": 1,
        "classifier": "classifier",
        "stem_conv": "conv_stem",
        "flops_known": True,
        "pretrained": ["efficientnet-lite0"],
        "pretrained_preprocessing": {
            "efficientnet-lite0": {"mean": [127 / 255] * 3, "std": [128 / 255] * 3, "input_size": 224,
                                   "crop_pct": 0.875, "interpolation": "bicubic", "in_chans": 3}
        },
    }
    resnet50 = model_info("resnet50")
    assert resnet50["pretrained"] == ["IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT"]
    assert resnet50["pretrained_preprocessing"]["IMAGENET1K_V2"]["crop_pct"] == 224 / 232


def test_the_catalog_is_the_registry_and_needs_no_torch():
    """config's model list, the registry and --help all read the catalog; importing it loads no torch."""
    code = ("import sys; from classifykit.models import catalog, registry; from classifykit import config; "
            "print('torch' in sys.modules, config.IMAGE_MODELS == catalog.builtin_names('image'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    assert sorted(catalog.builtin_names()) == list_models()


@pytest.mark.parametrize(
    "model, source, resize, crop, interpolation",
    [
        ("resnet18", "IMAGENET1K_V1", 256, 224, "bilinear"),
        ("resnet50", "IMAGENET1K_V2", 232, 224, "bilinear"),
        ("resnet50", "DEFAULT", 232, 224, "bilinear"),
        ("resnet50", "ResNet50_Weights.IMAGENET1K_V1", 256, 224, "bilinear"),
        ("convnext_tiny", "IMAGENET1K_V1", 236, 224, "bilinear"),
        ("efficientnet_b0", "IMAGENET1K_V1", 256, 224, "bicubic"),
        ("mobilenet_v3_small", "IMAGENET1K_V1", 256, 224, "bilinear"),
        # A weights file for a torchvision architecture: its IMAGENET1K_V1 preset.
        ("resnet50", "w.safetensors", 256, 224, "bilinear"),
        ("efficientnet_b0", "w.pth", 256, 224, "bicubic"),
        ("convnext_tiny", "w.pt", 236, 224, "bilinear"),
    ],
)
def test_torchvision_weights_preprocess_as_their_own_presets(model, source, resize, crop, interpolation):
    """Values of torchvision's ``weights.transforms()`` (torchvision 0.29 model docs: ResNet50_Weights.IMAGENET1K_V2
    "resized to resize_size=[232]", ConvNeXt_Tiny "[236]", EfficientNet_B0 "InterpolationMode.BICUBIC")."""
    cfg = preprocessing_for(model, source)
    assert cfg == PretrainedCfg(IMAGENET_MEAN, IMAGENET_STD, crop, crop / resize, interpolation, 3, source)
    assert math.floor(cfg.input_size / cfg.crop_pct) == resize


def test_preprocessing_of_our_own_architectures():
    assert preprocessing_for("resnet18", None) is None
    assert preprocessing_for("lstm", "w.pth") is None
    assert preprocessing_for("smallcnn", "w.pth") == PretrainedCfg(IMAGENET_MEAN, IMAGENET_STD, 28, 1.0, "bilinear",
                                                                   3, "w.pth")
    assert preprocessing_for("resnet18-small", "w.pth").input_size == 224
    lite0 = preprocessing_for("efficientnet-lite0", "efficientnet-lite0")
    assert (lite0.mean, lite0.std, lite0.crop_pct, lite0.interpolation) == (LITE0_MEAN, LITE0_STD, 0.875, "bicubic")
    assert preprocessing_for("efficientnet-lite0", "mine.pth") == lite0.for_source("mine.pth")


def test_an_architecture_registered_in_one_place_brings_its_weights_preprocessing(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    cfg = PretrainedCfg((0.5,) * 3, (0.25,) * 3, 96, 0.9, "bicubic")

    def tiny_weights():
        return {"fc.weight": torch.ones(10, 3), "fc.bias": torch.zeros(10)}

    @registry.register_model("tiny", input_size=96, classifier="fc",
                             weights=(NamedWeights("tiny-v1", tiny_weights, cfg),))
    def tiny(num_classes, in_chans=3):
        class Tiny(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(in_chans, num_classes)

            def forward(self, x):
                return self.fc(x.mean((2, 3)))

        return Tiny()

    assert preprocessing_for("tiny", "tiny-v1") == cfg.for_source("tiny-v1")
    model = create_model("tiny", 10, pretrained="tiny-v1")
    assert torch.equal(model.fc.weight, torch.ones(10, 3))
    assert model.pretrained_report.loaded == 2 and model.pretrained_report.key is None
    with pytest.raises(ClassifykitError, match="^--pretrained tiny-v1: these weights fit only --model tiny, not smallcnn."):
        create_model("smallcnn", 3, pretrained="tiny-v1")
    with pytest.raises(ValueError, match="interpolation"):
        PretrainedCfg((0.5,), (0.5,), 8, 1.0, "nearest")


def test_registry_accepts_text_models(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @registry.register_model("bag-of-embeddings", task="text", classifier="fc")
    def build(num_classes, vocab_size, dim=8):
        class Bag(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = torch.nn.EmbeddingBag(vocab_size, dim)
                self.fc = torch.nn.Linear(dim, num_classes)

            def forward(self, ids, lengths):
                return self.fc(self.emb(ids))

        return Bag()

    model = create_model("bag-of-embeddings", 4, vocab_size=50)
    ids = torch.randint(0, 50, (3, 6))
    assert model(ids, torch.full((3,), 6)).shape == (3, 4)
    assert model.classifier_name == "fc" and model.stem_conv_name is None
    info = model_info("bag-of-embeddings")
    assert (info["task"], info["input_size"], info["flops_known"]) == ("text", None, False)
    assert "bag-of-embeddings" in list_models("text") and "bag-of-embeddings" not in list_models("image")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_model("bag-of-embeddings", task="text")(build)
    with pytest.raises(ValueError, match="task must be 'image' or 'text', not 'audio'"):
        registry.register_model("speech", task="audio")(build)


def test_flops_match_published_multiply_add_counts():
    """torchvision lists ResNet-18 at 1.81 GFLOPS (multiply-adds) and MobileNetV3-Small at 0.06 at 224 px."""
    assert forward_flops(create_model("resnet18", 1000), 224, 3) == 3_628_146_688  # 2 × 1.814 G multiply-adds
    assert forward_flops(create_model("mobilenet_v3_small", 1000), 224, 3) == 113_020_800  # 2 × 56.5 M
