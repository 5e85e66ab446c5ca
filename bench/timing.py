"""Time spent inside an LM's or a verifier's methods, for the benchmarks (bench/*.py)."""

import time
from typing import Any


class Timed:
    """Seconds spent inside some methods of an LM or a verifier, and how many calls."""

    def __init__(self, inner, *methods: str):
        self.inner, self.methods, self.seconds, self.calls = inner, methods, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in self.methods:
            return attribute

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed
