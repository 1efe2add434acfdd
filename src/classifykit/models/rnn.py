"""Recurrent text classifier: Embedding -> (Bi)LSTM or GRU over packed sequences -> Linear.

The course design: classify from the last layer's final hidden state of both directions,
``cat(h_n[-2], h_n[-1])`` for a bidirectional RNN. That state is taken at each text's own last
token (forward) and first token (backward), never at a pad position, so a text's prediction does not
depend on what it is batched with. ``pooling="mean"``/``"max"`` instead pool the last layer's outputs
over the valid positions only.

Two exact ways to run a batch of mixed lengths (same results up to float rounding, tested):

- ``packed``: a ``PackedSequence`` (``enforce_sorted=False``). cuDNN runs it natively; on the CPU
  the packed LSTM computes its input projection step by step and costs about 1.75× an unpacked one
  (measured, ``bench.bench_text``).
- ``reversed`` (the CPU default): every direction of every layer runs as a one-layer unidirectional
  RNN over the plain padded tensor (on the CPU the oneDNN LSTM kernel), the backward direction over
  each row's valid tokens reversed in place (``[a b c pad] -> [c b a pad]``). Pads then only follow
  the valid tokens in both directions, so they never reach a valid position's state; each row's final
  state is read at its own last valid step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

POOLINGS = ("last", "mean", "max")
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
ENGINES = ("auto", "packed", "reversed")


def reverse_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` positions of ``x`` (B×T×F) in place of them; the rest stay.

    ``[a b c pad pad] -> [c b a pad pad]``. Its own inverse. ``lengths`` (B, >= 1) on any device.
    """
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    last = lengths.to(x.device)[:, None] - 1
    index = torch.where(t <= last, last - t, t)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


def at_last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[b, lengths[b] - 1]`` for every row of ``x`` (B×T×F) -> B×F."""
    rows = torch.arange(x.shape[0], device=x.device)
    return x[rows, lengths.to(x.device) - 1]


class RNNClassifier(nn.Module):
    """``forward(ids B×T int64, lengths B int64) -> logits B×num_classes``.

    A batch whose texts all have one length runs the RNN on the plain tensor; any other batch runs
    it by :attr:`engine` (module docstring), so pad positions are never read either way.

    Args:
        num_classes: K.
        vocab_size: rows of the embedding (id 0 is ``<pad>``: its row is zero and gets no gradient).
        embed_dim: embedding size E.
        hidden_size: H per direction.
        num_layers: stacked RNN layers.
        bidirectional: run a backward RNN too (features 2H).
        cell: ``lstm`` or ``gru``.
        dropout: on the embeddings, between RNN layers and before the classifier.
        pooling: ``last`` (final hidden states), ``mean`` or ``max`` over valid positions.

    Raises:
        ValueError: unknown ``cell`` or ``pooling``.
    """

    #: How a batch of mixed lengths runs: ``"auto"`` = ``"reversed"`` on the CPU and ``"packed"``
    #: elsewhere (cuDNN runs packed sequences natively); while tracing (ONNX/TorchScript export) always
    #: ``"packed"``, which the exporters map onto ONNX ``LSTM``/``GRU`` nodes with ``sequence_lens``.
    engine: str = "auto"

    def __init__(self, num_classes: int, vocab_size: int, embed_dim: int = 100, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = True, cell: str = "lstm", dropout: float = 0.3,
                 pooling: str = "last"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, not {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = CELLS[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                               bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)
        # A one-layer unidirectional cell of the same shape for the "reversed" engine, called through
        # torch.func.functional_call with one direction's weights of self.rnn; kept out of the module
        # tree (a list is not registered) so it is not in the state_dict. Layer 0 takes E inputs,
        # deeper layers H or 2H. On the meta device: no memory, and no draw from the RNG, so the
        # model's initial weights do not depend on them.
        in_deeper = hidden_size * (2 if bidirectional else 1)
        self._cells = [CELLS[cell](embed_dim, hidden_size, batch_first=True, device="meta")]
        if num_layers > 1:
            self._cells.append(CELLS[cell](in_deeper, hidden_size, batch_first=True, device="meta"))

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled RNN features ``B×(H or 2H)``; ``lengths`` >= 1 (moved to the CPU for packing)."""
        emb = self.dropout(self.embedding(ids))
        lengths_cpu = lengths.cpu()
        same_length = bool((lengths_cpu == lengths_cpu[0]).all())
        packed = False
        if same_length:
            # No padding to skip (common with length-bucketed batches): the plain RNN is exact.
            out, h_n = self.rnn(emb[:, : int(lengths_cpu[0])])
        elif self._engine_for(emb.device) == "reversed":
            out, last = self._run_reversed(emb[:, : int(lengths_cpu.max())], lengths_cpu)
            if self.pooling == "last":
                return last
        else:
            packed = True
            out, h_n = self.rnn(pack_padded_sequence(emb, lengths_cpu, batch_first=True, enforce_sorted=False))
        if self.pooling == "last":
            if isinstance(h_n, tuple):  # LSTM returns (h_n, c_n)
                h_n = h_n[0]
            # h_n: (num_layers × directions)×B×H, already in the batch's original order.
            return torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidirectional else h_n[-1]
        if packed:
            out, _ = pad_packed_sequence(out, batch_first=True)  # B×T'×F, T' = max(lengths)
        valid = (torch.arange(out.shape[1], device=out.device)[None, :] < lengths.to(out.device)[:, None])
        if self.pooling == "mean":
            return (out * valid[..., None]).sum(1) / lengths.to(out.device, out.dtype)[:, None]
        return out.masked_fill(~valid[..., None], float("-inf")).amax(1)

    def _engine_for(self, device: torch.device) -> str:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {self.engine!r}")
        if torch.jit.is_tracing() or torch.jit.is_scripting():
            return "packed"
        if self.engine == "auto":
            return "reversed" if device.type == "cpu" else "packed"
        return self.engine

    def _run_reversed(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``reversed`` engine: ``(outputs B×T×F, final states B×F)`` for padded ``x`` (B×T×E).

        Outputs at pad positions are not meaningful (poolings mask them), and with ``pooling="last"``
        the last layer's backward outputs are left in reversed order (unused); final states are the
        forward direction's at each row's last token and the backward direction's at its first, as
        ``h_n`` of the packed RNN.
        """
        rnn, suffixes = self.rnn, ("", "_reverse") if self.bidirectional else ("",)
        params = dict(rnn.named_parameters())
        for layer in range(rnn.num_layers):
            # The last layer's outputs are only pooled by mean/max; "last" needs its final states alone.
            keep_outputs = layer < rnn.num_layers - 1 or self.pooling != "last"
            cell = self._cells[min(layer, 1)]
            outs, finals = [], []
            for suffix in suffixes:
                weights = {f"{name}_l0": params[f"{name}_l{layer}{suffix}"]
                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias or "weight" in name}
                inp = reverse_valid(x, lengths) if suffix else x
                out = functional_call(cell, weights, (inp,))[0]
                finals.append(at_last_valid(out, lengths))
                outs.append(reverse_valid(out, lengths) if suffix and keep_outputs else out)
            x = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]
            if layer < rnn.num_layers - 1 and rnn.dropout > 0:
                x = nn.functional.dropout(x, rnn.dropout, self.training)
        return x, torch.cat(finals, dim=1) if len(finals) > 1 else finals[0]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(ids, lengths)))


def lstm(num_classes: int, **kwargs) -> RNNClassifier:
    """LSTM text classifier; kwargs as :class:`RNNClassifier` (vocab_size required)."""
    return RNNClassifier(num_classes, cell="lstm", **kwargs)


def gru(num_classes: int, **kwargs) -> RNNClassifier:
    """GRU text classifier; kwargs as :class:`RNNClassifier` (vocab_size required)."""
    return RNNClassifier(num_classes, cell="gru", **kwargs)
