"""Option values are checked when the config is built: a bad value is one message naming the flag."""

import pytest

from classifykit.config import ImageConfig, TextConfig, build_config
from classifykit.errors import ClassifykitError


@pytest.mark.parametrize(("field", "value", "message"), [
    ("epochs", 0, "--epochs 0: must be at least 1."),
    ("batch_size", 0, "--batch-size 0: must be at least 1."),
    ("clip_grad_norm", -1.0, "--clip-grad-norm -1.0: must be above 0"),
    ("label_smoothing", 2.0, "--label-smoothing 2.0: must be in [0, 1)"),
    ("seed", -1, "--seed -1: must be in 0 .. 2**32-1."),
    ("input_size", 1, "--input-size 1: must be at least 8 pixels."),
    ("patience", -1, "--patience -1: must be 0 (never stop early) or more."),
    ("optimizer", "adam", "--optimizer 'adam': use one of adamw, sgd."),
])
def test_out_of_range_values_name_the_flag(field, value, message):
    with pytest.raises(ClassifykitError) as e:
        build_config(ImageConfig, data="x", **{field: value})
    assert str(e.value).startswith(message)


def test_config_file_values_are_type_checked():
    with pytest.raises(ClassifykitError, match="config file key 'epochs': 'many' is not a whole number."):
        build_config(ImageConfig, {"epochs": "many"})
    with pytest.raises(ClassifykitError, match="config file key 'bidirectional': 'yes' is not true or false."):
        build_config(TextConfig, {"bidirectional": "yes"})
    cfg = build_config(TextConfig, {"lr": 1, "embeddings": None, "max-length": 64})
    assert (cfg.lr, type(cfg.lr), cfg.embeddings, cfg.max_length) == (1.0, float, None, 64)


def test_help_lists_exactly_the_registered_image_models():
    from classifykit.config import IMAGE_MODELS
    from classifykit.models.registry import list_models

    assert sorted(IMAGE_MODELS) == list_models("image")
