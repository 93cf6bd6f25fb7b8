"""The layout's promises, checked: the pure core and the wire protocol import no I/O library,
and only the transport package imports serial / bleak."""

from __future__ import annotations

import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "imu_host"
IO_LIBS = re.compile(r"^\s*(?:import|from)\s+(serial|bleak|sqlite3|matplotlib)\b", re.M)
# the pure core also uses no files, clocks, printing or threads
CORE_FORBIDDEN = re.compile(
    r"^\s*(?:import|from)\s+(os|io|sys|time|datetime|pathlib|threading|subprocess|socket|"
    r"serial|bleak|sqlite3|matplotlib|scipy)\b|\bprint\(|\bopen\(",
    re.M,
)


def _py(folder: str) -> list[Path]:
    return sorted((PKG / folder).rglob("*.py"))


def test_core_and_protocol_import_no_io_library():
    """The check from the structure issue: grep -rlE "import (serial|bleak|sqlite3|matplotlib)"
    imu_host/core imu_host/protocol prints nothing."""
    files = _py("core") + _py("protocol")
    assert len(files) >= 6, "the core and protocol packages are where the layout says"
    offenders = [str(f.relative_to(PKG)) for f in files if IO_LIBS.search(f.read_text())]
    assert offenders == []


def test_core_uses_no_files_clocks_printing():
    offenders = {
        str(f.relative_to(PKG)): m.group(0).strip()
        for f in _py("core")
        if (m := CORE_FORBIDDEN.search(f.read_text()))
    }
    assert offenders == {}


def test_only_the_transport_package_imports_serial_or_bleak():
    pat = re.compile(r"^\s*(?:import|from)\s+(serial|bleak)\b", re.M)
    users = {
        str(f.relative_to(PKG)).split("/")[0]
        for f in PKG.rglob("*.py")
        if "_firmware" not in f.parts and pat.search(f.read_text())
    }
    assert users <= {"transport"}
    assert users, "the transport package imports them (else this test checks nothing)"
