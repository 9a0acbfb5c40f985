"""Capture the private anonymous memory of a live process as a dump.

What is taken (what the kernel would swap to zram/zswap): the readable private mappings
of ``/proc/PID/maps`` without a backing file, i.e. ``[heap]``, ``[stack]``, anonymous
mmaps and named anonymous mappings (``[anon:NAME]``); file-backed, shared, ``[vvar]``,
``[vdso]``, ``[vsyscall]`` and unreadable ranges are skipped.  Within them only touched
pages are taken: those whose ``/proc/PID/pagemap`` entry has bit 63 (present) or bit 62
(swapped) set, as ``shared/kernel-oracle/dump-process-memory`` does.  Pages are read from
``/proc/PID/mem`` in address order (runs of touched pages in one ``pread``; a run that
fails is retried page by page and unreadable pages are skipped and counted).

The dump is written atomically: zstd-compressed when the file name ends in ``.zst``, raw
otherwise, plus a sidecar ``FILE.json`` with the process name (``/proc/PID/comm``), the
mapping list with sizes and page counts, the page count and size, the capture time (UTC)
and the kernel release; never the process's environment or command line.  Reading another
process's memory needs root.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import resource
import signal
import struct
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Sequence

from workloads.atomic import atomic_open
from workloads.errors import InputError
from workloads.trace import sidecar_path

PAGEMAP_PRESENT = 1 << 63
PAGEMAP_SWAPPED = 1 << 62
PAGEMAP_BATCH = 1 << 16  # pagemap entries read at once (512 KiB)
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class Mapping:
    """One line of ``/proc/PID/maps``: ``[start, end)`` addresses, permissions, name."""

    start: int
    end: int
    perms: str
    name: str

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    def is_private_anonymous(self) -> bool:
        """Readable, private, and anonymous (no file; heap, stack or named anonymous)."""
        if not self.perms.startswith("r") or self.perms[3:4] != "p":
            return False
        return self.name == "" or self.name in ("[heap]", "[stack]") or self.name.startswith(("[anon:", "[stack:"))


def parse_maps(text: str) -> list[Mapping]:
    """Mappings of a ``/proc/PID/maps`` text (the path may contain spaces)."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        out.append(Mapping(lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


@dataclass
class MappingCapture:
    """What was taken from one mapping (the sidecar's ``mappings`` rows)."""

    start: str
    end: str
    perms: str
    name: str
    size_bytes: int
    pages_touched: int = 0
    pages_captured: int = 0
    pages_unreadable: int = 0


def _proc(pid: int, what: str) -> Path:
    return Path(f"/proc/{pid}/{what}")


def _check_process(pid: int) -> None:
    if os.geteuid() != 0:
        raise InputError("capture needs root: it reads another process's /proc/PID/mem and pagemap")
    if pid <= 0 or not _proc(pid, "maps").exists():
        raise InputError(f"no process with PID {pid} (it may have exited)")


def _touched_runs(pagemap: BinaryIO, m: Mapping, page_size: int) -> list[tuple[int, int]]:
    """``(first address, n pages)`` runs of touched pages of mapping ``m``."""
    runs: list[tuple[int, int]] = []
    first_page = m.start // page_size
    n_pages = m.size_bytes // page_size
    for base in range(0, n_pages, PAGEMAP_BATCH):
        n = min(PAGEMAP_BATCH, n_pages - base)
        raw = os.pread(pagemap.fileno(), n * 8, (first_page + base) * 8)
        entries = struct.unpack(f"<{len(raw) // 8}Q", raw[: len(raw) // 8 * 8])
        for i, e in enumerate(entries):
            if e & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED):
                addr = m.start + (base + i) * page_size
                if runs and runs[-1][0] + runs[-1][1] * page_size == addr:
                    runs[-1] = (runs[-1][0], runs[-1][1] + 1)
                else:
                    runs.append((addr, 1))
    return runs


def _read_run(mem_fd: int, addr: int, n: int, page_size: int) -> list[bytes | None]:
    """The pages of a run (None for an unreadable page)."""
    try:
        data = os.pread(mem_fd, n * page_size, addr)
        if len(data) == n * page_size:
            return [data[i * page_size : (i + 1) * page_size] for i in range(n)]
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise
    if n == 1:
        return [None]
    return [p for i in range(n) for p in _read_run(mem_fd, addr + i * page_size, 1, page_size)]


def capture(pid: int, out: str | Path, max_mib: int | None = None) -> dict[str, Any]:
    """Write the touched private anonymous pages of process ``pid`` to ``out`` (see the
    module doc) and return the sidecar dict.  ``max_mib``: stop after that many MiB of
    pages.  ``InputError`` when not root, when the process is gone or exits, or when no
    page is readable; nothing is written then."""
    _check_process(pid)
    out = Path(out)
    page_size = resource.getpagesize()
    limit = (max_mib << 20) // page_size if max_mib else None
    try:
        comm = _proc(pid, "comm").read_text().strip()
        maps = [m for m in parse_maps(_proc(pid, "maps").read_text()) if m.is_private_anonymous()]
        rows, n_pages = _capture_to(pid, out, maps, page_size, limit)
    except (FileNotFoundError, ProcessLookupError):
        raise InputError(f"process {pid} exited during the capture; nothing written") from None
    except PermissionError as exc:
        raise InputError(f"cannot read the memory of process {pid}: {exc.strerror}") from None
    meta = {
        "pid": pid,
        "process_name": comm,
        "page_size": page_size,
        "n_pages": n_pages,
        "bytes": n_pages * page_size,
        "max_mib": max_mib,
        "truncated_at_max": bool(limit is not None and n_pages >= limit),
        "capture_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "kernel_release": os.uname().release,
        "compression": "zstd" if out.suffix == ".zst" else "none",
        "mappings": [asdict(r) for r in rows],
    }
    with atomic_open(sidecar_path(out), "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    return meta


def _capture_to(pid: int, out: Path, maps: Sequence[Mapping], page_size: int,
                limit: int | None) -> tuple[list[MappingCapture], int]:
    rows = []
    n_pages = 0
    with open(_proc(pid, "pagemap"), "rb", buffering=0) as pagemap, atomic_open(out, "wb") as fh:
        mem_fd = os.open(_proc(pid, "mem"), os.O_RDONLY)
        sink = _writer(fh, out)
        try:
            for m in maps:
                row = MappingCapture(f"0x{m.start:x}", f"0x{m.end:x}", m.perms, m.name, m.size_bytes)
                rows.append(row)
                for addr, n in _touched_runs(pagemap, m, page_size):
                    row.pages_touched += n
                    if limit is not None:
                        n = min(n, limit - n_pages)
                    if n <= 0:
                        continue
                    for page in _read_run(mem_fd, addr, n, page_size):
                        if page is None:
                            row.pages_unreadable += 1
                        else:
                            sink.write(page)
                            row.pages_captured += 1
                            n_pages += 1
            if n_pages == 0:
                raise InputError(f"nothing readable in process {pid}: no touched private anonymous page")
            if sink is not fh:
                sink.close()
        finally:
            os.close(mem_fd)
    return rows, n_pages


def _writer(fh: BinaryIO, out: Path):
    if out.suffix != ".zst":
        return fh
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(fh, closefd=False)


def run_and_capture(argv: Sequence[str], out: str | Path, after_seconds: float = 2.0, keep_env: bool = False,
                    max_mib: int | None = None) -> dict[str, Any]:
    """Start ``argv`` (environment: ``PATH`` only unless ``keep_env``; stdin and stdout
    to /dev/null), let it run ``after_seconds``, stop it with SIGSTOP, capture it, then
    kill it.  Returns the sidecar dict (with ``command`` = the program name only)."""
    if os.geteuid() != 0:
        raise InputError("capture needs root: it reads another process's /proc/PID/mem and pagemap")
    if not argv:
        raise InputError("capture --run needs a command after --")
    env = dict(os.environ) if keep_env else {"PATH": os.environ.get("PATH", os.defpath)}
    try:
        proc = subprocess.Popen(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except OSError as exc:
        raise InputError(f"cannot start {argv[0]}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + after_seconds
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if proc.poll() is not None:
            raise InputError(f"{argv[0]} exited with status {proc.returncode} before the capture "
                             f"(after {after_seconds} s); nothing written")
        proc.send_signal(signal.SIGSTOP)
        meta = capture(proc.pid, out, max_mib)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    meta["command"] = Path(argv[0]).name
    with atomic_open(sidecar_path(Path(out)), "w") as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    return meta
