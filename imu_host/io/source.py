"""Opening input files safely and reading them as bounded blocks of whole lines.

- only regular files are read: a FIFO, ``/dev/zero``, a terminal or a socket is refused
  with one line (opened non-blocking, so a FIFO with no writer never hangs);
- files are read in blocks of :data:`~imu_host.io.limits.CHUNK_BYTES` (memory stays
  bounded whatever the file holds; a NUL byte or a non-UTF-8 byte stops the read at once,
  naming the line);
- a line longer than :data:`~imu_host.io.limits.MAX_LINE_BYTES` is refused (a 50 MB
  "number" is not a sensor row) and values quoted in errors are capped (:func:`shown`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import IO

import numpy as np

from imu_host.errors import InputError
from imu_host.io.limits import CHUNK_BYTES, MAX_LINE_BYTES, SHOWN_CHARS

BOM = b"\xef\xbb\xbf"
NEWLINE = ord("\n")


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """A value as quoted in an error line: stripped, at most ``limit`` characters."""
    v = value.strip()
    if not v:
        return "(empty)"
    if len(v) > limit:
        return f"{v[:limit]}... ({len(v)} characters)"
    return v


def open_input(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading; InputError unless it is a readable regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a recording file", path=path) from None
    except PermissionError:
        raise InputError("permission denied", path=path) from None
    except (OSError, ValueError) as err:
        why = getattr(err, "strerror", None) or str(err)
        raise InputError(f"cannot open: {why}", path=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError("is a directory, expected a recording file", path=path)
        if not stat.S_ISREG(mode):
            raise InputError(
                "not a regular file (a pipe, device or socket); expected a recording file",
                path=path,
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_size(fh: IO[bytes]) -> int:
    return os.fstat(fh.fileno()).st_size


def _count_lines(block: bytes) -> int:
    """The newlines in a block (numpy's count is several times faster than bytes.count)."""
    return int(np.count_nonzero(np.frombuffer(block, np.uint8) == NEWLINE))


def decode_block(block: bytes, path: str, first_line: int) -> str:
    """A block's text; InputError naming the line of a NUL or non-UTF-8 byte."""
    nul = block.find(b"\x00")
    if nul >= 0:
        line = first_line + block.count(b"\n", 0, nul)
        raise InputError("binary data (NUL byte), expected CSV text", path=path, line=line)
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as err:
        line = first_line + block.count(b"\n", 0, err.start)
        raise InputError("not UTF-8 text, expected CSV", path=path, line=line) from None


# the v1 reader's blocks (~4000 rows): a replay streams them through the pipeline, so
# smaller blocks are less memory held at once, and no slower (benchmarks/bench_speed.py)
RAW_CHUNK_BYTES = 1 << 18


def raw_line_blocks(
    fh: IO[bytes], path: str, chunk: int = RAW_CHUNK_BYTES
) -> Iterator[tuple[int, bytes, bool]]:
    """:func:`line_blocks` without the decoding: ``(first line number, bytes, terminated)``
    blocks of whole lines, the same blocks (a caller that needs the text, or the check
    that it is text, calls :func:`decode_block` on each, as :func:`line_blocks` does)."""
    lineno = 1
    rest = b""
    first = True
    while True:
        try:
            data = fh.read(chunk)
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=path) from None
        if not data:
            break
        if first:
            first = False
            if data.startswith(BOM):
                data = data[len(BOM) :]
        buf = rest + data if rest else data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) > MAX_LINE_BYTES:
                raise InputError(
                    f"line longer than {MAX_LINE_BYTES} bytes; not a CSV row", path=path,
                    line=lineno,
                )  # fmt: skip
            rest = buf
            continue
        block, rest = buf[:cut], buf[cut:]
        if len(rest) > MAX_LINE_BYTES:
            raise InputError(
                f"line longer than {MAX_LINE_BYTES} bytes; not a CSV row", path=path,
                line=lineno + block.count(b"\n"),
            )  # fmt: skip
        data = buf = b""  # only the block and the rest are held while the caller works
        yield lineno, block, True
        lineno += _count_lines(block)
    if rest:
        yield lineno, rest, False


def line_blocks(
    fh: IO[bytes], path: str, chunk: int = CHUNK_BYTES
) -> Iterator[tuple[int, str, bool]]:
    """Yield ``(first line number, text, terminated)`` blocks of whole lines.

    Every block but possibly the last ends with a newline; the last block's
    ``terminated`` says whether the file ended with one (a cut-off final row does not).
    """
    for lineno, block, terminated in raw_line_blocks(fh, path, chunk):
        yield lineno, decode_block(block, path, lineno), terminated


def read_all_text(path: str, limit: int) -> str:
    """A small text file (phyphox meta, JSON) read whole, refusing more than ``limit`` bytes."""
    with open_input(path) as fh:
        if file_size(fh) > limit:
            raise InputError(f"larger than {limit} bytes; expected a small text file", path=path)
        parts = [text for _, text, _ in line_blocks(fh, path)]
    return "".join(parts)
