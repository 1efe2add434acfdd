"""The pretrained-encoder text model on a tiny random BERT folder (no package needed), plus one real check."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from classifykit import runfolder as rf
from classifykit.config import TrainConfig
from classifykit.errors import ClassifykitError
from classifykit.export import export_model
from classifykit.io import write_csv, write_json
from classifykit.models.encoder_fit import (FINETUNE_RECIPE, FROZEN_HEAD_RECIPE, estimate_seconds, finetune_param_groups,
                                            fit_frozen_head)
from classifykit.models.features import backbone_features
from classifykit.models.registry import create_model, list_models
from classifykit.models.saved import load_saved_model
from classifykit.models.text_encoder import encoder_meta, saved_model_kwargs
from classifykit.text.hf_tokenize import (FOLDER_FILES, EncodedIdsDataset, HFTokenizer, PadCollate, copy_tokenizer_files,
                                          load_run_tokenizer, max_length_from_data)
from classifykit.text.sampler import BucketBatchSampler

WORDS = ("good great fine film movie plot actor the a was is bad awful dull boring not very story and "
         "it this of to lovely terrible").split()
POSITIVE = ["a good film", "great movie", "the plot was lovely", "a very fine story", "good actor and great plot",
            "this movie is good", "lovely film", "great great story"]
NEGATIVE = ["a bad film", "awful movie", "the plot was dull", "a very boring story", "bad actor and awful plot",
            "this movie is terrible", "dull film", "boring boring story"]


def make_tiny_encoder(folder):
    """A random 2-layer BERT (hidden 32) and a WordPiece tokenizer over :data:`WORDS`, saved as an HF folder."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(specials + WORDS + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"])}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece()
    BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                      sep_token="[SEP]", mask_token="[MASK]").save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        vocab_size=len(vocab), max_position_embeddings=64, pad_token_id=0)
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


def texts_and_targets():
    return POSITIVE + NEGATIVE, np.array([0] * len(POSITIVE) + [1] * len(NEGATIVE))


def loader(ds, batch_size=4, shuffle=True):
    from torch.utils.data import DataLoader

    return DataLoader(ds, batch_sampler=BucketBatchSampler(ds.lengths, batch_size, shuffle=shuffle), collate_fn=PadCollate(0))


def test_registered_as_text_models():
    assert {"minilm", "hf-encoder"} <= set(list_models("text"))


def test_tokenizer_pads_per_batch_and_truncates(encoder_dir):
    tok = HFTokenizer(encoder_dir, max_length=6)
    assert tok.pad_id == 0
    ids, mask = tok.encode(["good film", "the plot was very very dull and boring"])
    assert ids.dtype == mask.dtype == torch.int64
    assert ids.shape == mask.shape == (2, 6)  # the longer text truncated to 6 tokens, specials included
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
    assert ids[0, 0].item() == 2 and ids[0, 3].item() == 3 and ids[0, 4:].tolist() == [0, 0]  # [CLS] .. [SEP] pad
    assert ids[1, -1].item() == 3  # truncation keeps [SEP]


def test_max_length_from_data():
    lengths = np.r_[np.full(95, 20), np.full(5, 400)]
    assert max_length_from_data(lengths) == 24  # the 95% quantile 20, rounded up to a multiple of 8
    assert max_length_from_data(np.full(10, 1000)) == 256  # the cap
    assert max_length_from_data(np.full(10, 1000), model_limit=128) == 128
    assert max_length_from_data(np.full(10, 3)) == 8


def test_forward_shapes_and_padding_ignored(encoder_dir):
    model = create_model("hf-encoder", 3, encoder_dir=str(encoder_dir)).eval()
    tok = HFTokenizer(encoder_dir, 32)
    ids, mask = tok.encode(["good film", "the plot was dull"])
    logits = model(ids, mask)
    assert logits.shape == (2, 3) and logits.dtype == torch.float32
    padded_ids = torch.cat([ids, torch.zeros(2, 7, dtype=torch.int64)], 1)
    padded_mask = torch.cat([mask, torch.zeros(2, 7, dtype=torch.int64)], 1)
    torch.testing.assert_close(model(padded_ids, padded_mask), logits, atol=1e-5, rtol=1e-5)
    alone = model(*tok.encode(["good film"]))  # batched with a longer text or not: same logits
    torch.testing.assert_close(alone, logits[:1], atol=1e-5, rtol=1e-5)


def test_pretrained_weights_loaded_from_folder(encoder_dir):
    model = create_model("hf-encoder", 2, encoder_dir=str(encoder_dir))
    saved = load_file(str(encoder_dir / "model.safetensors"))
    name = next(k for k in saved if k.endswith("word_embeddings.weight"))
    torch.testing.assert_close(model.encoder.state_dict()[name.removeprefix("bert.")], saved[name])


def test_missing_folder_files_are_user_errors(encoder_dir, tmp_path):
    with pytest.raises(ClassifykitError, match="needs --encoder DIR"):
        create_model("hf-encoder", 2)
    bad = tmp_path / "pickled"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(encoder_dir / name, bad / name)
    (bad / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ClassifykitError, match="model.safetensors is missing.*pickle"):
        create_model("hf-encoder", 2, encoder_dir=str(bad))


def test_finetune_with_the_engine_decreases_loss(encoder_dir, tmp_path):
    from classifykit.engine.trainer import fit
    from classifykit.io import read_csv_rows

    torch.manual_seed(0)
    model = create_model("hf-encoder", 2, encoder_dir=str(encoder_dir))
    before = model.encoder.embeddings.word_embeddings.weight.detach().clone()
    groups = finetune_param_groups(model, lr=1e-3, head_lr=1e-2)
    assert [g["name"] for g in groups] == ["head", "backbone"] and [g["lr"] for g in groups] == [1e-2, 1e-3]
    assert all(g["frozen_epochs"] == 0 for g in groups)
    texts, targets = texts_and_targets()
    ds = EncodedIdsDataset.from_texts(texts, targets, HFTokenizer(encoder_dir, 16))
    cfg = TrainConfig(**{**FINETUNE_RECIPE, "epochs": 6, "batch_size": 4, "lr": 1e-2}, device="cpu", threads=1, quiet=True)
    fit(model, loader(ds), loader(ds, shuffle=False), cfg, tmp_path, param_groups=groups)
    # val loss: eval mode, so free of the dropout noise that train loss has on 16 texts
    losses = [float(r["val_loss"]) for r in read_csv_rows(tmp_path / rf.METRICS)]
    assert len(losses) == 6 and losses[-1] < 0.85 * losses[0]
    assert not torch.equal(model.encoder.embeddings.word_embeddings.weight.detach(), before)  # the encoder trained


def write_run(run, model, encoder_dir, frozen, max_length=16):
    """A run folder as the text task writes one: model.json, model.safetensors, encoder/ files."""
    run.mkdir(parents=True, exist_ok=True)
    copy_tokenizer_files(encoder_dir, run / "encoder")
    meta = {"task": "text", "architecture": "hf-encoder", "model_kwargs": saved_model_kwargs(model),
            "num_classes": 2, "classes": ["pos", "neg"], "in_chans": None, "input_size": None, "mean": None,
            "std": None, **encoder_meta("hf-encoder", encoder_dir, frozen=frozen, max_length=max_length, pad_id=0),
            "best_epoch": 0, "best_val_acc": 0.0}
    write_json(run / rf.MODEL_META, meta)
    return meta


def test_frozen_feature_cache_and_head(encoder_dir, tmp_path):
    torch.manual_seed(0)
    model = create_model("hf-encoder", 2, encoder_dir=str(encoder_dir))
    run = tmp_path / "run"
    write_run(run, model, encoder_dir, frozen=True)
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    texts, targets = texts_and_targets()
    ds = EncodedIdsDataset.from_texts(texts, targets, HFTokenizer(encoder_dir, 16))
    cfg = TrainConfig(**{**FROZEN_HEAD_RECIPE, "epochs": 20, "batch_size": 8}, device="cpu", threads=1, quiet=True)
    result = fit_frozen_head(model, loader(ds), loader(ds, shuffle=False), cfg, run, torch.device("cpu"))
    assert result.best_epoch >= 1 and result.best_val_acc > 0.5
    assert (run / rf.FEATURES_DIR / "train.safetensors").is_file()
    cached = load_file(str(run / rf.FEATURES_DIR / "train.safetensors"))
    assert cached["features"].shape == (len(texts), 32)
    saved = load_file(str(run / rf.WEIGHTS))
    assert set(saved) == set(model.state_dict())  # encoder + head merged
    for k, v in encoder_before.items():
        torch.testing.assert_close(saved[f"encoder.{k}"], v)  # the encoder stayed as pretrained
    loaded, _ = load_saved_model(run)
    feats, y = backbone_features(loaded, loader(ds, shuffle=False), torch.device("cpu"))
    torch.testing.assert_close(torch.sort(feats, 0).values, torch.sort(cached["features"], 0).values, atol=1e-5, rtol=1e-5)
    ids, mask = HFTokenizer(encoder_dir, 16).encode(texts)
    torch.testing.assert_close(loaded(ids, mask), loaded.head(loaded.features(ids, mask)))


def test_saved_run_rebuilds_without_source_folder(encoder_dir, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(encoder_dir, source)
    model = create_model("hf-encoder", 2, encoder_dir=str(source)).eval()
    run = tmp_path / "run"
    meta = write_run(run, model, source, frozen=False, max_length=8)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run / rf.WEIGHTS))
    shutil.rmtree(source)
    loaded, read = load_saved_model(run)
    assert read.extra["encoder"] == {"files": "encoder", "source": str(source.resolve()), "frozen": False, "pad_id": 0}
    copied = {p.name for p in (run / "encoder").iterdir()}
    assert copied == {f for f in FOLDER_FILES if (encoder_dir / f).is_file()} >= {"config.json", "tokenizer.json"}
    tok = load_run_tokenizer(run, meta)
    assert tok.max_length == 8
    ids, mask = tok.encode(["good film", "the very dull plot was boring and bad"])
    assert ids.shape[1] == 8
    torch.testing.assert_close(loaded(ids, mask), model(ids, mask))


def test_onnx_export_matches_pytorch(encoder_dir, tmp_path):
    torch.manual_seed(0)
    model = create_model("hf-encoder", 2, encoder_dir=str(encoder_dir)).eval()
    run = tmp_path / "run"
    write_run(run, model, encoder_dir, frozen=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run / rf.WEIGHTS))
    texts, _ = texts_and_targets()
    write_csv(run / rf.MANIFEST, ["row", "text", "label"], [(str(i), t, "pos") for i, t in enumerate(texts)])
    write_csv(run / rf.SPLIT, ["item", "label", "split"], [(str(i), "pos", "test") for i in range(len(texts))])
    result = export_model(run, "onnx", num_examples=6)
    assert result.inputs == "6 test-split items"
    assert len(result.checks) == 3 and result.max_abs_diff < 1e-4
    assert "attention_mask" in result.checks[0].shapes
    assert (run / "export" / "encoder" / "tokenizer.json").is_file()
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    ids, mask = HFTokenizer(encoder_dir, 16).encode(["a lovely story and a great actor", "dull"])  # new shapes
    out = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model(ids, mask).numpy(), atol=1e-4)


def test_estimate_seconds_times_the_model(encoder_dir):
    model = create_model("hf-encoder", 2, encoder_dir=str(encoder_dir))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frozen = estimate_seconds(1000, 12, 2, "frozen", "cpu", model=model, probe_steps=2)
    tuned = estimate_seconds(1000, 12, 2, "finetune", "cpu", eval_texts=200, model=model, probe_steps=2)
    assert 0 < frozen < tuned
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])  # the probe leaves the weights as they were
    with pytest.raises(ClassifykitError, match="mode"):
        estimate_seconds(10, 12, 1, "lora", "cpu", model=model)


@pytest.mark.integration
def test_packaged_minilm_embeds_paraphrases_close():
    """all-MiniLM-L6-v2's mean-pooled embeddings: a paraphrase is closer than an unrelated sentence."""
    from classifykit.models.text_encoder import packaged_folder

    model = create_model("minilm", 2).eval()
    tok = HFTokenizer(packaged_folder(), 64)
    with torch.no_grad():
        e = torch.nn.functional.normalize(model.features(*tok.encode([
            "The film was a delight from start to finish.",
            "I enjoyed this movie from beginning to end.",
            "The train to Berlin leaves at seven in the morning."])), dim=1)
    paraphrase, unrelated = float(e[0] @ e[1]), float(e[0] @ e[2])
    assert paraphrase > 0.5 > unrelated
    assert sum(p.numel() for p in model.encoder.parameters()) == 22_713_216
