"""The training engine: fit, evaluate, metrics, checkpoints, devices, seeds, samplers, torchrun.

It knows nothing of images or text: batches are ``(inputs, targets)`` and the model returns logits.
A task trains a model in a few lines::

    from classifykit.engine import fit
    result = fit(model, train_loader, val_loader, cfg, run_dir)
"""

from classifykit.engine.checkpoint import load_weights, save_weights
from classifykit.engine.device import select_device
from classifykit.engine.distributed import DistInfo, init_distributed
from classifykit.engine.loop import evaluate, predict_logits
from classifykit.engine.metrics import classification_report, n_for_halfwidth, wilson_interval
from classifykit.engine.sampling import SeededRandomSampler, distributed_sampler
from classifykit.engine.seed import seed_everything, seed_worker
from classifykit.engine.trainer import FitResult, balanced_class_weights, fit

__all__ = [
    "DistInfo", "FitResult", "SeededRandomSampler", "balanced_class_weights", "classification_report",
    "distributed_sampler", "evaluate", "fit", "init_distributed", "load_weights", "n_for_halfwidth",
    "predict_logits", "save_weights", "seed_everything", "seed_worker", "select_device", "wilson_interval",
]
