"""Shared test helpers."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never let a test write the user's real history database."""
    d = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(d))
    monkeypatch.setenv("IMU_HOST_DB", str(d / "history.sqlite3"))
    yield


os.environ.setdefault("MPLBACKEND", "Agg")
