"""The firmware type-checks against the MicroPython board stubs (ESP32, Pico W) with
mypy: firmware_micropython/typecheck.sh. Skipped when mypy is missing or the stubs are
not installed yet (the script installs them into firmware_micropython/.stubs/)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

FW = Path(__file__).resolve().parents[1] / "firmware_micropython"


@pytest.mark.parametrize("port", ["esp32", "rp2"])
def test_firmware_type_checks_against_board_stubs(port):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy not installed")
    if not (FW / ".stubs" / port / "machine.pyi").exists():
        pytest.skip(f"no {port} stubs (run sh firmware_micropython/typecheck.sh once)")
    r = subprocess.run(
        ["sh", str(FW / "typecheck.sh")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PORTS=port, PYTHON=sys.executable),
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Success: no issues found" in r.stdout
