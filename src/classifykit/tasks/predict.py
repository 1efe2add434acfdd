"""``classifykit predict RUN INPUTS...`` for image runs: files, folders or a manifest -> predictions CSV.

Images are decoded with the same :func:`~classifykit.data.decode.decode_image` and evaluation
preset as at training time, in batches; class names come from the run's saved ``model.json``, never
from the input folders. An unreadable input gets a row with its error instead of stopping the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from classifykit.data.dataset import loader_kwargs
from classifykit.data.decode import decode_image
from classifykit.data.manifest import manifest_root, read_manifest, resolve
from classifykit.data.scan import IMAGE_EXTENSIONS, is_hidden
from classifykit.data.transforms import eval_transforms, meta_crop_pct
from classifykit.engine.device import select_device
from classifykit.errors import ClassifykitError
from classifykit.io import write_csv

PREDICTION_COLUMNS = ["path", "label", "probability", "top_k", "error"]
MANIFEST_SUFFIXES = (".csv", ".tsv", ".tab")


def expand_inputs(inputs: list[str], *, encoding: str = "utf-8") -> list[Path]:
    """Files as given; folders walked recursively for image extensions (hidden entries skipped, sorted);
    ``.csv``/``.tsv`` files read as manifests (their path column, relative to the manifest's folder).

    Raises:
        ClassifykitError: an input does not exist, or nothing to predict was found.
    """
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
                out.extend(Path(dirpath) / f for f in sorted(filenames)
                           if not is_hidden(f) and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            root = manifest_root(path)
            out.extend(resolve(root, it.path) for it in read_manifest(path, encoding=encoding))
        elif path.exists():
            out.append(path)
        else:
            raise ClassifykitError(f"{path}: no such file or folder; give image files, folders or a manifest CSV.")
    if not out:
        raise ClassifykitError(f"No images found in {', '.join(inputs)} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
    return out


class _PredictDataset(Dataset):
    """``(image C×H×W float, index, error)``; an undecodable file gives a zero image and its error text."""

    def __init__(self, paths: list[Path], meta: dict) -> None:
        self.paths = paths
        self.channels = meta["in_chans"]
        self.size = meta["input_size"]
        self.transform = eval_transforms(meta["input_size"], meta["mean"], meta["std"], meta_crop_pct(meta))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            return self.transform(decode_image(self.paths[i], self.channels)), i, ""
        except ClassifykitError as e:
            return torch.zeros(self.channels, self.size, self.size), i, str(e)
        except OSError as e:  # unreadable (permissions, I/O error)
            return torch.zeros(self.channels, self.size, self.size), i, f"{self.paths[i]}: {e.strerror or e}"


def predict_images(run: Path, inputs: list[str], out: Path, *, top_k: int = 3, batch_size: int = 64,
                   device: str = "auto", num_workers: int = -1) -> tuple[int, list[tuple[str, str]]]:
    """Predict every input image with the run's best model and write ``out`` (CSV).

    Columns: ``path, label, probability, top_k, error`` — ``top_k`` is ``class:prob`` pairs joined by
    ``;``; unreadable inputs have an empty label and the reason in ``error``.

    Returns:
        ``(number predicted, [(path, error), ...])``.
    """
    from classifykit.models.saved import load_saved_model

    dev = select_device(device)
    model, meta = load_saved_model(run, dev)
    classes = meta["classes"]
    k = max(1, min(top_k, len(classes)))
    paths = expand_inputs(inputs)
    loader = DataLoader(_PredictDataset(paths, meta), batch_size=batch_size, shuffle=False,
                        **loader_kwargs(num_workers, dev))
    rows: list[list] = [[] for _ in paths]
    failures: list[tuple[str, str]] = []
    with torch.inference_mode():
        for images, index, errors in loader:
            probs = torch.softmax(model(images.to(dev)).float(), 1).cpu()
            top_p, top_i = probs.topk(k, 1)
            for j, i in enumerate(index.tolist()):
                if errors[j]:
                    rows[i] = [str(paths[i]), "", "", "", errors[j]]
                    failures.append((str(paths[i]), errors[j]))
                    continue
                pairs = ";".join(f"{classes[c]}:{p:.4f}" for p, c in zip(top_p[j].tolist(), top_i[j].tolist()))
                rows[i] = [str(paths[i]), classes[top_i[j, 0]], f"{top_p[j, 0]:.6f}", pairs, ""]
    write_csv(out, PREDICTION_COLUMNS, rows)
    return len(paths) - len(failures), failures
