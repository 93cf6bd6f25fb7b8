"""Where the real MEx recordings live, and a skip marker for when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MEX_DIR = REPO.parent / "shared" / "real" / "mex_knee_rolling"


def mex_available() -> bool:
    return (MEX_DIR / "labels.csv").is_file()


requires_mex = pytest.mark.skipif(
    not mex_available(), reason=f"real MEx recordings not present at {MEX_DIR}"
)
