"""``classifykit export``: a run's best model as ONNX or TorchScript, verified against PyTorch.

``export_model(run, "onnx")`` writes ``<run>/export/model.onnx`` (or ``model.torchscript.pt``), a copy of
``model.json`` beside it with an ``exports`` entry (file, input/output names and shapes, opset, torch
version, verification result) and, for text, ``vocab.json``: everything a serving stack needs to
preprocess inputs and read the logits. Inputs and outputs are described in :mod:`.signature`.
"""

from __future__ import annotations

from classifykit.models.meta import meta_extra

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from classifykit import runfolder as rf
from classifykit.errors import ClassifykitError
from classifykit.export.inputs import example_inputs
from classifykit.export.signature import describe, flat_meta, signature_of
from classifykit.export.temperature import with_temperature
from classifykit.export.to_onnx import DEFAULT_OPSET, OnnxRunner, check_opset, export_onnx
from classifykit.export.to_torchscript import TorchScriptRunner, export_torchscript
from classifykit.export.verify import DEFAULT_ATOL, DEFAULT_RTOL, Check, compare
from classifykit.io import read_json, write_json
from classifykit.models.saved import load_saved_model

FORMATS = ("onnx", "torchscript")
FILE_NAMES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
EXPORT_DIR = "export"
TOKENIZER_FILE = "tokenizer.json"

__all__ = ["DEFAULT_ATOL", "DEFAULT_OPSET", "DEFAULT_RTOL", "FORMATS", "ExportResult", "export_model"]


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote and how well the export matched PyTorch.

    Attributes:
        path: the exported model file.
        format: ``"onnx"`` or ``"torchscript"``.
        checks: one :class:`~classifykit.export.verify.Check` per verified batch shape.
        inputs: where the verification inputs came from (e.g. ``"8 test-split items"``).
    """

    path: Path
    format: str
    checks: list[Check]
    inputs: str

    @property
    def max_abs_diff(self) -> float:
        """Largest |logit difference| over all verified batches."""
        return max(c.max_abs_diff for c in self.checks)


def _out_path(run: Path, fmt: str, out: str | os.PathLike | None) -> Path:
    if out is None:
        return run / EXPORT_DIR / FILE_NAMES[fmt]
    out = Path(out)
    # A name without an extension is a folder (created if needed), so `--out deploy` never becomes
    # a file called "deploy" that the next export of another format would overwrite.
    return out / FILE_NAMES[fmt] if out.is_dir() or not out.suffix else out


def _write_sidecars(run: Path, out: Path, meta: dict, fmt: str, entry: dict) -> None:
    """``model.json`` (with this export merged into ``exports``) beside ``out``; for text also
    ``vocab.json`` and ``tokenizer.json`` (the same tokenizer in Hugging Face ``tokenizers``' own
    format, which its Python, Rust and JavaScript bindings load with ``Tokenizer.from_file``); for an
    encoder run its ``encoder/`` folder (config and tokenizer files)."""
    meta_path = out.parent / rf.MODEL_META
    exports = (read_json(meta_path).get("exports") or {}) if meta_path.is_file() else {}
    write_json(meta_path, {**meta, "exports": {**exports, fmt: entry}})
    if meta_extra(meta, "encoder"):
        from classifykit.text.hf_tokenize import copy_tokenizer_files

        copy_tokenizer_files(run / meta["encoder"]["files"], out.parent / meta["encoder"]["files"])
    if meta.get("featurizer"):  # the n-gram model's ngram.json
        src, dst = run / meta["featurizer"], out.parent / meta["featurizer"]
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
    if meta.get("vocab"):
        from classifykit.text.tokenize import build_tokenizer
        from classifykit.text.vocab import UNK, Vocab

        src, dst = run / meta["vocab"], out.parent / meta["vocab"]
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        build_tokenizer(Vocab.load(src).stoi, UNK).save(str(out.parent / TOKENIZER_FILE))


def _export_verified(model: torch.nn.Module, meta: dict, inputs: tuple[torch.Tensor, ...], fmt: str, out: Path,
                     opset: int, atol: float, rtol: float) -> list[Check]:
    """Write ``fmt`` to a temporary file beside ``out``, verify it, then move it to ``out``; returns the checks.

    Raises:
        ClassifykitError: a batch outside tolerance (the temporary file is removed).
    """
    task = signature_of(meta)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if fmt == "onnx":
            export_onnx(model, inputs, tmp, task, opset)
            runner = OnnxRunner(tmp, task)
        else:
            export_torchscript(model, inputs, tmp)
            runner = TorchScriptRunner(tmp)
        checks = compare(model, runner, inputs, task)
        failed = [c for c in checks if not c.passes(atol, rtol)]
        if failed:
            c = failed[0]
            raise ClassifykitError(
                f"{fmt} export differs from PyTorch by {c.max_abs_diff:.3g} in the logits ({c.shapes}; "
                f"max |logit| {c.max_abs_logit:.3g}), above --atol {atol:g} + --rtol {rtol:g} × max |logit|; "
                f"nothing was written. Try the other --format" + (" or another --opset" if fmt == "onnx" else "") + "."
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return checks


def _export_entry(meta: dict, fmt: str, out: Path, opset: int, checks: list[Check], source: str,
                  atol: float, rtol: float) -> dict:
    """The ``exports.<fmt>`` entry of the exported ``model.json``."""
    entry = {"file": out.name, "format": fmt, **describe(meta), "torch": torch.__version__,
             "exporter": "torch.onnx.export(dynamo=False)" if fmt == "onnx" else "torch.jit.trace"}
    if fmt == "onnx":
        entry["opset"] = opset
    entry["temperature"] = meta.get("temperature", 1.0)  # already applied: softmax(output) = predict's probabilities
    entry["verified"] = {"inputs": source, "batches": [c.shapes for c in checks],
                         "max_abs_diff": max(c.max_abs_diff for c in checks), "atol": atol, "rtol": rtol,
                         "same_prediction": sum(c.same_prediction for c in checks),
                         "rows": sum(c.rows for c in checks)}
    return entry


def export_model(run_dir: str | os.PathLike, fmt: str, out: str | os.PathLike | None = None, *,
                 opset: int = DEFAULT_OPSET, inputs: tuple[torch.Tensor, ...] | None = None,
                 atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, num_examples: int = 8) -> ExportResult:
    """Export the run's best model (``model.safetensors``) to ``fmt`` and verify it.

    The exported graph returns ``logits / temperature`` (model.json's, fitted on val), so its softmax
    gives ``classifykit predict``'s calibrated probabilities. The file is written under a temporary name, run with onnxruntime (ONNX) or ``torch.jit.load``
    (TorchScript) on three batch shapes (:mod:`.verify`), and only moved to ``out`` if, in every batch,
    the largest |logit difference| from PyTorch is within ``atol + rtol * max |logit|``; a failed
    export leaves nothing behind.

    Args:
        run_dir: a finished run folder (``model.json`` + ``model.safetensors``).
        fmt: ``"onnx"`` or ``"torchscript"``.
        out: output file (a name with an extension), or a folder to write ``model.onnx`` /
            ``model.torchscript.pt`` into (an existing folder or a name without extension);
            default ``<run>/export/``.
        opset: ONNX opset (11..20); ignored for TorchScript.
        inputs: example inputs as ``forward`` takes them (images ``B×C×H×W`` float32 normalized as in
            ``model.json``; text ``(ids B×T int64, lengths B int64)``; an encoder run
            ``(input_ids B×T int64, attention_mask B×T int64)``); default: ``num_examples``
            items of the run's test split (random inputs of the right shape if the data is gone).
        atol, rtol: accepted |logit difference| is ``atol + rtol * max |logit|`` per batch.

    Raises:
        ClassifykitError: unknown format, bad opset, not a finished run (or a text run without its
            vocabulary), or an export that does not reproduce PyTorch's logits within tolerance
            (the message gives the difference and the batch shape).
    """
    if fmt not in FORMATS:
        raise ClassifykitError(f"--format {fmt}: choose one of {', '.join(FORMATS)}.")
    if fmt == "onnx":
        check_opset(opset)
    run = Path(run_dir)
    model, saved = load_saved_model(run)
    model = with_temperature(model, saved.temperature)  # the exported logits are the calibrated ones
    meta = flat_meta(saved.to_dict())
    if meta.get("vocab") and not (run / meta["vocab"]).is_file():
        raise ClassifykitError(f"{run / meta['vocab']}: missing, but {run / rf.MODEL_META} names it; "
                               "a text model cannot be used without its vocabulary.")
    if inputs is None:
        inputs, source = example_inputs(run, meta, num_examples)
    else:
        source = f"{inputs[0].shape[0]} given items"
    out = _out_path(run, fmt, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    checks = _export_verified(model, meta, inputs, fmt, out, opset, atol, rtol)
    _write_sidecars(run, out, meta, fmt, _export_entry(meta, fmt, out, opset, checks, source, atol, rtol))
    return ExportResult(out, fmt, checks, source)
