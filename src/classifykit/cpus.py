"""How many CPU cores this process may use (its affinity mask, not the machine's total)."""

import os


def usable_cpus() -> int:
    """Cores this process may run on: ``len(os.sched_getaffinity(0))`` where available (Linux; honours
    taskset and container CPU sets), else ``os.cpu_count()``, at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
