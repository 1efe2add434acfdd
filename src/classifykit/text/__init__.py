"""Text inputs for the text task, one idea per module.

``read`` (CSV/TSV/JSONL/class folders -> records + skip reasons), ``labels`` (canonical labels and
class order), ``offset_index`` (byte-offset access to corpora larger than memory), ``corpus`` (both
behind one interface), ``tokenize`` and ``vocab`` (Hugging Face ``tokenizers`` pipeline and the saved
vocabulary), ``embeddings`` (GloVe vectors and coverage), ``dataset`` and ``sampler`` (batches for the
engine), ``inference`` (the pieces evaluate and predict use), ``rotten_tomatoes`` (the demo data).
"""
