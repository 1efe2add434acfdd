"""Benchmarks that measure classifykit on real data: ``python -m bench [name ...]``.

Each ``bench/bench_<name>.py`` module has a ``main(argv: list[str] | None = None)`` that prints what it
measured, side by side, with ratios. Run one directly for its options:
``python -m bench.bench_<name> --help``.
"""
