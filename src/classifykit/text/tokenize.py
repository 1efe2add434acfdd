"""The tokenizer: Unicode NFKC normalization, lower-casing, then splitting on whitespace and punctuation.

Built from Hugging Face ``tokenizers`` (Rust; ``encode_batch`` runs on all cores):

* normalizer ``NFKC`` then ``Lowercase`` — NFKC folds compatibility forms (``ﬁ`` -> ``fi``, full-width
  letters, non-breaking spaces) so one word has one spelling. Accents are kept (no ``StripAccents``):
  GloVe 6B keeps them (``café`` and ``cafe`` are two rows) and they distinguish words.
* pre-tokenizer ``WhitespaceSplit`` then ``Punctuation(behavior="isolated")`` — every Unicode
  punctuation character becomes its own token (``"don't stop!"`` -> ``don ' t stop !``), so ``!``
  and ``?`` are features instead of being glued to words.

The settings are stored in ``vocab.json`` (:data:`TOKENIZER_SETTINGS`) so predict rebuilds exactly
this pipeline; :func:`check_settings` refuses a file written with different ones.
"""

from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from classifykit.errors import ClassifykitError

TOKENIZER_SETTINGS = {
    "library": "tokenizers",
    "normalizer": ["NFKC", "Lowercase"],
    "pre_tokenizer": ["WhitespaceSplit", "Punctuation(isolated)"],
}


def check_settings(settings: dict, source: str) -> None:
    """Raise :class:`ClassifykitError` if ``settings`` (read from ``source``) differ from ours."""
    if settings != TOKENIZER_SETTINGS:
        raise ClassifykitError(f"{source}: tokenizer settings {settings} differ from this version's "
                               f"{TOKENIZER_SETTINGS}; retrain the model with this classifykit version.")


def build_tokenizer(vocab: dict[str, int] | None = None, unk_token: str = "<unk>") -> Tokenizer:
    """A ``tokenizers.Tokenizer`` with our normalizer and pre-tokenizer over a word-level ``vocab``.

    ``vocab`` maps token -> id (None: an empty vocabulary, for counting or plain tokenization). The
    special tokens are ordinary vocabulary entries, not "added tokens", so a text containing the
    literal string ``<pad>`` is split like any other text (``<``, ``pad``, ``>``).
    """
    tok = Tokenizer(models.WordLevel(vocab or {unk_token: 0}, unk_token=unk_token))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    return tok


def tokenize(texts: list[str]) -> list[list[str]]:
    """Token strings of each text (normalized and split; no vocabulary lookup)."""
    tok = build_tokenizer()
    norm, pre = tok.normalizer, tok.pre_tokenizer
    return [[piece for piece, _ in pre.pre_tokenize_str(norm.normalize_str(t))] for t in texts]
