from typing import Any

# src, out and bounds: buffers (bytes, memoryview, numpy arrays)
def read(src: Any, out: Any, ncol: int, bounds: Any, /) -> int: ...
