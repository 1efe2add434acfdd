"""``python -m bench [name ...]``: run every ``bench/bench_*.py`` (or the named ones) in turn.

``name`` is the module name without the ``bench_`` prefix (``python -m bench image_cache``). Each
benchmark runs with its default options; run a module directly (``python -m bench.bench_<name>``) to
pass options.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    """Benchmark names (``bench_<name>.py`` files beside this one), sorted."""
    folder = Path(__file__).parent
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    names = available()
    unknown = [n for n in argv if n not in names]
    if unknown:
        print(f"Unknown benchmark {unknown[0]!r}; available: {', '.join(names)}.", file=sys.stderr)
        return 2
    for name in argv or names:
        print(f"== bench {name} ==", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"bench.bench_{name}").main([])
        print(f"== bench {name}: {time.perf_counter() - start:.1f} s ==\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
