"""``classifykit serve RUN``: a trained run's best model behind an HTTP API and a single web page.

- :mod:`~classifykit.serve.app`: the FastAPI app (``POST /predict``, ``GET /model``, ``GET /health``, ``/``).
- :mod:`~classifykit.serve.limits`: request bounds and the checks of what a client sends (by bytes).
- :mod:`~classifykit.serve.batching`: the micro-batcher (a bounded queue, one forward pass per batch).
- :mod:`~classifykit.serve.card`: the model card (``GET /model``).

Predictions come from :class:`classifykit.tasks.predictor.Predictor`, the path ``classifykit predict``
takes, so the server answers what ``predict`` writes.
"""
