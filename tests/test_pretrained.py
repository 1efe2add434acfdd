"""Loading pretrained weights: every file layout, head replacement, stem adaptation, clear errors."""

import argparse
import urllib.error
import zipfile

import numpy as np
import pytest
import torch
import torch.hub
import torch.serialization
from safetensors.torch import save_file

from classifykit.errors import ClassifykitError
from classifykit.models import create_model
from classifykit.models.catalog import IMAGENET_MEAN, IMAGENET_STD
from classifykit.models.pretrained import pretrained_preprocessing
from classifykit.models.registry import get_spec
from classifykit.models.weights import load_pretrained, read_weights_file

RESNET18 = get_spec("resnet18")


@pytest.fixture(scope="module")
def source_model():
    """A real torchvision resnet18 (1000 classes), randomly initialised with a fixed seed."""
    torch.manual_seed(0)
    return create_model("resnet18", 1000)


@pytest.fixture(scope="module")
def source_state(source_model):
    return {k: v.clone() for k, v in source_model.state_dict().items()}


def _ema(state):
    return {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}


def _layouts(state):
    """file name -> (content, key the weights are under, other top-level keys)."""
    optimizer = {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
    return {
        "bare.pth": (state, None, ()),
        "wrapped_state_dict.pt": ({"state_dict": state, "epoch": 3}, "state_dict", ("epoch",)),
        "wrapped_model.pth": ({"model": state, "optimizer": {"lr": 0.1}}, "model", ("optimizer",)),
        # PyTorch's tutorial "Saving and loading a general checkpoint".
        "tutorial.pt": ({"epoch": 5, "model_state_dict": state, "optimizer_state_dict": optimizer, "loss": 0.25},
                        "model_state_dict", ("epoch", "optimizer_state_dict", "loss")),
        "model_state.pth": ({"model_state": state, "step": 100}, "model_state", ("step",)),
        "net.pth": ({"net": state, "acc": 91.5, "epoch": 7}, "net", ("acc", "epoch")),
        # timm's train.py: plain weights win over the EMA copy saved beside them.
        "timm_with_ema.pth": ({"epoch": 9, "arch": "resnet18", "state_dict": state, "state_dict_ema": _ema(state)},
                                      "state_dict", ("epoch", "arch", "state_dict_ema")),
        "only_ema.pth": ({"model_ema": state, "epoch": 2}, "model_ema", ("epoch",)),
        "ema.pt": ({"ema": state}, "ema", ()),
        "ddp.pth": ({f"module.{k}": v for k, v in state.items()}, None, ()),
        "compiled.pt": ({"state_dict": {f"_orig_mod.{k}": v for k, v in state.items()}}, "state_dict", ()),
        "ddp_compiled.pth": ({f"module._orig_mod.{k}": v for k, v in state.items()}, None, ()),
    }


def _assert_backbone_equal(model, state):
    own = model.state_dict()
    for k, v in state.items():
        if not k.startswith("fc."):
            assert torch.equal(own[k], v), k


@pytest.mark.parametrize("layout", list(_layouts({})) + ["weights.safetensors"])
def test_every_file_layout_loads_with_a_new_head(tmp_path, source_state, layout):
    path = tmp_path / layout
    if layout.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in source_state.items()}, str(path))
        key, others = None, ()
    else:
        content, key, others = _layouts(source_state)[layout]
        torch.save(content, path)
    torch.manual_seed(1)
    model = create_model("resnet18", 5, pretrained=str(path))
    _assert_backbone_equal(model, source_state)
    report = model.pretrained_report
    assert (report.key, report.other_keys) == (key, others)
    assert report.summary().startswith(f"--pretrained {path}" + (f" (the weights under {key!r}" if key else ":"))
    assert model.fc.weight.shape == (5, 512) and model.fc.bias.shape == (5,)
    assert not torch.equal(model.fc.weight, source_state["fc.weight"][:5])


def test_same_class_count_loads_the_head_too(tmp_path, source_state):
    path = tmp_path / "full.pth"
    torch.save(source_state, path)
    model = create_model("resnet18", 1000)
    report = load_pretrained(model, str(path), spec=RESNET18, num_classes=1000)
    assert torch.equal(model.fc.weight, source_state["fc.weight"])
    assert report.loaded == len(source_state) and report.head_replaced == () and not report.stem_adapted


def test_head_replacement_is_reported(tmp_path, source_state):
    path = tmp_path / "w.pth"
    torch.save(source_state, path)
    model = create_model("resnet18", 3)
    report = load_pretrained(model, str(path), spec=RESNET18, num_classes=3)
    assert report.head_replaced == ("fc.weight", "fc.bias")
    assert report.loaded == len(source_state) - 2


def test_a_model_built_with_another_class_count_gets_its_head_replaced(tmp_path, source_state):
    path = tmp_path / "w.pth"
    torch.save(source_state, path)
    model = create_model("resnet18", 1000)
    load_pretrained(model, str(path), spec=RESNET18, num_classes=7)
    assert model.fc.out_features == 7
    _assert_backbone_equal(model, source_state)


def _save_as_if_on_gpu(obj, path, monkeypatch):
    """torch.save as a CUDA machine writes it: every storage tagged 'cuda:0' (no GPU needed to write)."""
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(obj, path)


def test_weights_saved_on_gpu_load_on_cpu(tmp_path, source_state, monkeypatch):
    path = tmp_path / "gpu.pth"
    _save_as_if_on_gpu({"state_dict": {f"module.{k}": v for k, v in source_state.items()}}, path, monkeypatch)
    with zipfile.ZipFile(path) as z:
        pickle_bytes = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    assert b"cuda:0" in pickle_bytes
    model = create_model("resnet18", 5, pretrained=str(path))
    _assert_backbone_equal(model, source_state)
    assert all(t.device.type == "cpu" for t in model.state_dict().values())


def test_rgb_stem_is_summed_for_grey_input_and_grey_response_is_unchanged(tmp_path, source_state):
    path = tmp_path / "w.pth"
    torch.save(source_state, path)
    grey = create_model("resnet18", 1000, in_chans=1, pretrained=str(path)).eval()
    rgb = create_model("resnet18", 1000, in_chans=3, pretrained=str(path)).eval()
    assert torch.equal(grey.conv1.weight, source_state["conv1.weight"].sum(dim=1, keepdim=True))
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(grey(x), rgb(x.expand(-1, 3, -1, -1)), atol=1e-4, rtol=1e-4)


def test_mismatched_file_lists_every_missing_unexpected_and_misshapen_key(tmp_path, source_state):
    state = dict(source_state)
    del state["layer4.1.bn2.running_mean"]
    del state["layer4.1.bn2.running_var"]
    state["extra.weight"] = torch.zeros(3)
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ClassifykitError) as e:
        create_model("resnet18", 5, pretrained=str(path))
    assert str(e.value) == (
        f"--pretrained {path}: the weights do not fit --model resnet18; "
        "2 missing keys: layer4.1.bn2.running_mean, layer4.1.bn2.running_var; "
        "1 unexpected key: extra.weight; "
        "1 shape mismatch: layer1.0.conv1.weight (file 64×64×1×1, model 64×64×3×3). "
        "Pass weights saved from a resnet18 model, or choose the --model they were trained with."
    )


def test_another_architecture_is_refused_with_a_shortened_listing(tmp_path, source_state):
    path = tmp_path / "resnet18.pth"
    torch.save(source_state, path)
    with pytest.raises(ClassifykitError) as e:
        create_model("resnet34", 5, pretrained=str(path))
    msg = str(e.value)
    assert "the weights do not fit --model resnet34; 96 missing keys: layer1.2.conv1.weight," in msg
    assert "... (84 more)" in msg


def test_the_summary_names_the_key_the_unused_keys_and_the_new_head(tmp_path, source_state):
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 5, "model_state_dict": source_state, "optimizer_state_dict": {}}, path)
    report = create_model("resnet18", 5, in_chans=1, pretrained=str(path)).pretrained_report
    assert report.summary() == (
        f"--pretrained {path} (the weights under 'model_state_dict'; not used: epoch, optimizer_state_dict): "
        f"{len(source_state) - 2} tensors loaded; new head: fc.weight, fc.bias; stem adapted to the input channels."
    )


def _refused(path):
    with pytest.raises(ClassifykitError) as e:
        read_weights_file(path)
    msg = str(e.value)
    assert "weights_only set to False" not in msg  # torch's advice: never for a user's file
    return msg


def test_pickled_code_is_never_loaded(tmp_path):
    path = tmp_path / "model_object.pth"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    assert _refused(path) == (
        f"--pretrained {path}: cannot read it as weights (UnpicklingError: torch.load(weights_only=True) "
        "refuses the torch.nn.modules.linear.Linear object it holds). It holds a pickled "
        "model object, not a state_dict: save the model's weights with torch.save(model.state_dict(), path)."
    )


def test_a_checkpoint_with_argparse_namespace_says_to_save_it_without(tmp_path, source_state):
    path = tmp_path / "with_args.pth"
    torch.save({"state_dict": source_state, "args": argparse.Namespace(lr=0.1, arch="resnet18")}, path)
    assert _refused(path) == (
        f"--pretrained {path}: cannot read it as weights (UnpicklingError: torch.load(weights_only=True) "
        "refuses the argparse.Namespace object it holds). Re-save it once where you trust the file "
        "(ckpt = torch.load(path, weights_only=False)) as a checkpoint without the training arguments, e.g. "
        "torch.save({k: v for k, v in ckpt.items() if not isinstance(v, argparse.Namespace)}, path), "
        "or save vars(args) instead."
    )


@pytest.mark.parametrize("value", [np.float64(0.93), np.zeros(3)], ids=["numpy-scalar", "numpy-array"])
def test_a_checkpoint_with_numpy_values_says_to_save_them_as_numbers(tmp_path, source_state, value):
    path = tmp_path / "with_numpy.pth"
    torch.save({"model_state_dict": source_state, "best_acc": value}, path)
    msg = _refused(path)
    name = "scalar" if value.ndim == 0 else "_reconstruct"
    assert msg.startswith(f"--pretrained {path}: cannot read it as weights (UnpicklingError: torch.load(weights_only="
                          "True) refuses the numpy.")
    assert f"multiarray.{name} object it holds). Re-save it once" in msg
    assert msg.endswith("or turn NumPy values into float(v) / torch.from_numpy(v) first.")
    assert "argparse" not in msg and "state_dict()" not in msg  # advice for other files left out


def test_a_pickle_that_is_not_torch_gets_the_general_advice(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a zip and not a pickle")
    msg = _refused(path)
    assert msg.startswith(f"--pretrained {path}: cannot read it as weights (UnpicklingError: ")
    assert msg.endswith("save the model's weights with torch.save(model.state_dict(), path).")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("w.ckpt", None, "--pretrained {path}: expected a .pth/.pt/.bin/.safetensors weights file."),
        ("missing.pth", None, "--pretrained {path}: no such file."),
        (
            "meta.pth",
            {"epoch": 3, "best_acc": 0.9},
            "--pretrained {path}: expected a state_dict (names -> tensors), bare or under one of 'state_dict', "
            "'model_state_dict', 'model_state', 'model', 'net', 'state_dict_ema', 'model_ema', 'ema'; "
            "found dict with keys epoch, best_acc.",
        ),
    ],
)
def test_unusable_files(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        torch.save(content, path)
    elif name.endswith(".ckpt"):
        path.write_bytes(b"x")
    with pytest.raises(ClassifykitError) as e:
        read_weights_file(path)
    assert str(e.value) == message.format(path=path)


def test_torchvision_weights_offline_say_to_pass_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(ClassifykitError) as e:
        create_model("resnet18", 5, pretrained="IMAGENET1K_V1")
    assert str(e.value) == (
        "--pretrained IMAGENET1K_V1: could not download https://download.pytorch.org/models/resnet18-f37072fd.pth "
        "into torch's cache (URLError: <urlopen error [Errno -2] Name or service not known>). Without internet, "
        "download the file elsewhere and pass its path: --pretrained /path/to/resnet18-f37072fd.pth."
    )


def test_torchvision_weights_from_the_cache_load_without_network(tmp_path, monkeypatch, source_state):
    """A file already in torch's cache (what a download leaves) is used as is."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(source_state, cached)
    report = load_pretrained(create_model("resnet18", 5), "IMAGENET1K_V1", spec=RESNET18, num_classes=5)
    assert report.loaded == len(source_state) - 2


@pytest.mark.parametrize(
    "source, model_name, message",
    [
        (
            "IMAGENET9K",
            "resnet18",
            "--pretrained IMAGENET9K: not a weights file and not a weights name of --model resnet18 (its names: "
            "IMAGENET1K_V1, DEFAULT); pass a local .pth/.pt/.safetensors weights file or efficientnet-lite0 "
            "with --model efficientnet-lite0.",
        ),
        (
            "ResNet50_Weights.IMAGENET1K_V2",
            "resnet18",
            "--pretrained ResNet50_Weights.IMAGENET1K_V2: these torchvision weights are not for --model resnet18.",
        ),
        (
            "efficientnet-lite0",
            "resnet18",
            "--pretrained efficientnet-lite0: these weights fit only --model efficientnet-lite0, not resnet18.",
        ),
        (
            "ResNet18_Weights.IMAGENET1K_V1",
            "resnet18-small",
            "--pretrained ResNet18_Weights.IMAGENET1K_V1: not a weights file and not a weights name of --model "
            "resnet18-small (its names: none); pass a local .pth/.pt/.safetensors weights file or "
            "efficientnet-lite0 with --model efficientnet-lite0.",
        ),
    ],
)
def test_wrong_weights_names(source, model_name, message):
    with pytest.raises(ClassifykitError) as e:
        create_model(model_name, 5, pretrained=source)
    assert str(e.value) == message


def test_preprocessing_follows_the_weights(tmp_path):
    """The dict of tasks/image.py's callers: the old keys plus crop_pct and interpolation."""
    v1 = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": 224, "crop_pct": 0.875,
          "interpolation": "bilinear", "in_chans": 3}
    assert pretrained_preprocessing(None, "resnet18") is None
    assert pretrained_preprocessing("IMAGENET1K_V1", "resnet18") == v1
    assert pretrained_preprocessing("ResNet50_Weights.IMAGENET1K_V2", "resnet50") == {**v1, "crop_pct": 224 / 232}
    assert pretrained_preprocessing(str(tmp_path / "w.safetensors"), "mobilenet_v3_small") == v1
    assert pretrained_preprocessing("efficientnet-lite0", "efficientnet-lite0") == {
        "mean": [127 / 255] * 3,
        "std": [128 / 255] * 3,
        "input_size": 224,
        "crop_pct": 0.875,
        "interpolation": "bicubic",
        "in_chans": 3,
    }
    with pytest.raises(ClassifykitError, match="fit only --model efficientnet-lite0"):
        pretrained_preprocessing("efficientnet-lite0", "smallcnn")
