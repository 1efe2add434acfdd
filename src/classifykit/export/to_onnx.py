"""ONNX export with torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``), run by onnxruntime.

Why not the default ``dynamo=True`` exporter of torch 2.14: it goes through ``torch.export``, which
cannot trace ``pack_padded_sequence`` (the length-sorted packing needs data-dependent sizes; it fails
with "zeros(): argument 'size' ... got FakeTensor"), and it needs the extra ``onnxscript`` package.
The TorchScript-based exporter maps packed LSTM/GRU layers onto ONNX ``LSTM``/``GRU`` nodes with a
``sequence_lens`` input, so a text model keeps its packed semantics with a dynamic batch and sequence
length, and a CNN exports the same way. Since torch 2.9 the dynamo exporter is the default and this
one warns that it is deprecated (``DeprecationWarning``), but torch 2.14, which classifykit pins, ships
it and it works; every export is verified numerically
(see :mod:`classifykit.export.verify`), so a change in a later torch shows up as a failed export,
not as a silently wrong model.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from classifykit.errors import ClassifykitError
from classifykit.export.signature import OUTPUT, dynamic_axes, input_names

# torch.onnx's TorchScript-based exporter writes opsets 7..20 (torch.onnx._constants). Measured here:
# the CNNs export from opset 9, the packed text models from 11 (at 9 the length sort has no dynamic
# form: "ONNX export of operator Sort, input size not accessible"). 17 (2022) is the default: current
# runtimes read it, and it has LayerNormalization as one node.
DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 11, 20


def check_opset(opset: int) -> None:
    """Raises ClassifykitError naming ``--opset`` when ``opset`` is outside 11..20."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ClassifykitError(f"--opset {opset}: the exporter writes opsets {MIN_OPSET}..{MAX_OPSET}; "
                               f"{DEFAULT_OPSET} (the default) suits current runtimes.")


def _use_packed_output(module: nn.Module, inputs: tuple, out: tuple) -> tuple | None:
    """Forward hook: make the final hidden state depend (by ``+ 0·x``) on the RNN's padded output.

    Why: the exporter's ONNX peephole pass (``pushPackingPastRnn``) crashes with
    "vector::_M_range_check" when a packed RNN's output sequence has no consumer, which is the case
    for a one-layer RNN classified from ``h_n`` alone (``pooling="last"``). Unpacking the output and
    adding zero times one of its elements gives that output a consumer the pass can pair with the
    packing. Exact: RNN outputs are bounded (tanh), so the term is exactly 0.
    """
    output, hidden = out
    if not isinstance(output, PackedSequence):
        return None
    zero = pad_packed_sequence(output)[0].flatten()[:1].sum() * 0
    if isinstance(hidden, tuple):  # LSTM: (h_n, c_n)
        return output, tuple(h + zero for h in hidden)
    return output, hidden + zero


@contextlib.contextmanager
def _packed_rnn_outputs_used(model: nn.Module) -> Iterator[None]:
    """Install :func:`_use_packed_output` on every RNN/LSTM/GRU in ``model`` for the duration of an export."""
    handles = [m.register_forward_hook(_use_packed_output) for m in model.modules() if isinstance(m, nn.RNNBase)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def export_onnx(model: nn.Module, example: tuple[torch.Tensor, ...], path: Path, task: str,
                opset: int = DEFAULT_OPSET) -> None:
    """Trace ``model`` on ``example`` and write an ONNX file to ``path``, then check it with ``onnx.checker``.

    Args:
        model: eval-mode model on CPU.
        example: positional inputs (images ``B×C×H×W`` float32, text ``(ids B×T, lengths B)`` int64, or
            encoder ``(input_ids B×T, attention_mask B×T)`` int64).
        task: the signature, ``"image"``, ``"text"`` or ``"encoder"`` (input names and dynamic axes,
            see :mod:`.signature`).
        opset: ONNX opset version (11..20).

    Raises:
        ClassifykitError: the exporter cannot express the model (its message, and what to try).
    """
    import onnx

    check_opset(opset)
    with warnings.catch_warnings():
        # The deprecation notice is documented above; the tracer's shape warnings (e.g. LSTM batch
        # size) concern exactly what verify() then checks on other batch sizes and lengths.
        warnings.simplefilter("ignore")
        try:
            with torch.no_grad(), _packed_rnn_outputs_used(model):
                torch.onnx.export(model, example, str(path), dynamo=False, input_names=input_names(task),
                                  output_names=[OUTPUT], dynamic_axes=dynamic_axes(task), opset_version=opset,
                                  do_constant_folding=True)
        except RuntimeError as e:  # torch.onnx.errors.OnnxExporterError is one
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ClassifykitError(f"ONNX export at --opset {opset} failed: {first}. Try a newer --opset "
                                   f"(up to {MAX_OPSET}) or --format torchscript.") from e
    onnx.checker.check_model(str(path))


class OnnxRunner:
    """Runs an ONNX file with onnxruntime's CPU provider: ``runner(*inputs) -> logits B×K float32 Tensor``."""

    def __init__(self, path: Path, task: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: onnxruntime otherwise warns about unused initializers
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = input_names(task)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {name: np.ascontiguousarray(t.cpu().numpy()) for name, t in zip(self.names, inputs)}
        return torch.from_numpy(self.session.run([OUTPUT], feed)[0])
