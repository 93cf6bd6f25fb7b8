"""Shared test helpers."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest


@pytest.fixture(autouse=True)
def _isolated_history(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never let a test write the user's real history database."""
    d = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(d))
    monkeypatch.setenv("IMU_HOST_DB", str(d / "history.sqlite3"))
    yield


os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def loop():
    """An asyncio loop on its own thread (what the BLE transport runs bleak on)."""
    lp = asyncio.new_event_loop()
    th = threading.Thread(target=lp.run_forever, daemon=True)
    th.start()
    yield lp

    async def cancel_rest() -> None:
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_rest(), lp).result(5)
    lp.call_soon_threadsafe(lp.stop)
    th.join(5)
    if not lp.is_running():
        lp.close()
