"""How the benchmarks measure memory: the same way for every benchmark."""

import resource
import tracemalloc
from collections.abc import Callable


def peak_memory_mib(run: Callable[[], object]) -> tuple[float, float]:
    """Run once under tracemalloc: (peak Python allocations, the process's peak RSS so far), in MiB."""
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
