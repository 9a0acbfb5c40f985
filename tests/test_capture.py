"""Capture of a live process: a child that holds a known pattern in anonymous memory
(skipped when not root), maps parsing, and the errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from workloads.capture import Mapping, capture, parse_maps
from workloads.dumps import DumpSource
from workloads.errors import InputError
from zdensity.cli import main

root = pytest.mark.skipif(os.geteuid() != 0, reason="capture needs root")

N_PATTERN = 48
CHILD = textwrap.dedent(f"""
    import mmap, struct, sys, time
    ps = mmap.PAGESIZE
    m = mmap.mmap(-1, {N_PATTERN} * ps, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    # written 8 bytes at a time so that no page-sized copy of a pattern exists elsewhere
    for i in range({N_PATTERN}):
        word = b"ZDNSTY" + struct.pack("<H", i)
        for j in range(i * ps, (i + 1) * ps, 8):
            m[j:j + 8] = word
    untouched = mmap.mmap(-1, 64 * ps, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    shared = mmap.mmap(-1, 8 * ps, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    for j in range(0, 8 * ps, 8):
        shared[j:j + 8] = b"SHAREDPG"
    print("READY", flush=True)
    time.sleep(60)
""")


def pattern_page(i: int, ps: int = 4096) -> bytes:
    return (b"ZDNSTY" + i.to_bytes(2, "little")) * (ps // 8)


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, env={"PATH": os.defpath})
    assert proc.stdout.readline().strip() == b"READY"
    yield proc
    proc.kill()
    proc.wait()


def dump_pages(path) -> list[bytes]:
    return [row.tobytes() for chunk in DumpSource(path).chunks() for row in chunk]


@root
def test_capture_child_with_known_pattern(child, tmp_path):
    out = tmp_path / "c.zst"
    meta = capture(child.pid, out)
    pages = dump_pages(out)
    assert len(pages) == meta["n_pages"] == sum(m["pages_captured"] for m in meta["mappings"])
    found = [pattern_page(i) in set(pages) for i in range(N_PATTERN)]
    assert all(found)
    assert not any(p.startswith(b"SHAREDPG") for p in pages)  # shared mapping skipped
    side = json.loads((tmp_path / "c.zst.json").read_text())
    assert side == meta and side["process_name"].startswith("python")
    assert side["kernel_release"] == os.uname().release and side["page_size"] == 4096
    text = json.dumps(side)
    assert "ZDNSTY" not in text and "PATH" not in text and "import" not in text  # no cmdline, no environment
    names = {m["name"] for m in side["mappings"]}
    assert "[heap]" in names or "" in names
    assert not names & {"[vvar]", "[vdso]", "[vsyscall]"}
    # the 64 untouched pages of the second mapping are not taken: far fewer pages than mapped
    assert meta["n_pages"] < sum(m["size_bytes"] for m in side["mappings"]) // 4096


@root
def test_capture_raw_and_max_mib(child, tmp_path):
    meta = capture(child.pid, tmp_path / "c.bin", max_mib=1)
    assert meta["n_pages"] == 256 and meta["truncated_at_max"]
    assert (tmp_path / "c.bin").stat().st_size == 256 * 4096 and meta["compression"] == "none"


@root
def test_capture_run_command(tmp_path, capsys):
    env_file = tmp_path / "env.txt"
    program = (f"import os, time; open({str(env_file)!r}, 'w').write(' '.join(sorted(os.environ))); "
               "x = bytearray(b'Q' * 3000000); time.sleep(30)")
    code = main(["capture", "--run", "--after", "1", "--out", str(tmp_path / "r.zst"), "--", sys.executable, "-c", program])
    err = capsys.readouterr().err
    assert code == 0, err
    assert set(env_file.read_text().split()) - {"LC_CTYPE"} == {"PATH"}  # Python may coerce the C locale
    side = json.loads((tmp_path / "r.zst.json").read_text())
    assert side["command"] == os.path.basename(sys.executable) and side["n_pages"] > 700
    pages = np.frombuffer(b"".join(dump_pages(tmp_path / "r.zst")), dtype=np.uint8).reshape(-1, 4096)
    assert ((pages == ord("Q")).all(axis=1)).sum() >= 700  # the 3 MB buffer of 'Q'


@root
def test_capture_run_command_that_exits_early(tmp_path, capsys):
    code = main(["capture", "--run", "--after", "2", "--out", str(tmp_path / "x.zst"), "--", "true"])
    err = capsys.readouterr().err
    assert code == 2 and "exited with status 0 before the capture" in err and not list(tmp_path.iterdir())


@root
def test_capture_gone_pid(tmp_path, capsys):
    proc = subprocess.Popen(["true"])
    proc.wait()
    code = main(["capture", str(proc.pid), "--out", str(tmp_path / "g.zst")])
    err = capsys.readouterr().err
    assert code == 2 and f"no process with PID {proc.pid}" in err and not list(tmp_path.iterdir())


def test_capture_not_root(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(InputError, match="capture needs root"):
        capture(os.getpid(), tmp_path / "x.zst")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["capture", "abc", "--out", "X"], "one PID"),
    (["capture", "--out", "X"], "one PID"),
    (["capture", "--run", "--out", "X"], "needs a command after --"),
])
def test_capture_usage_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_parse_maps_and_filter():
    text = textwrap.dedent("""\
        55d4a0000000-55d4a0021000 rw-p 00000000 00:00 0                          [heap]
        7f0000000000-7f0000100000 rw-p 00000000 00:00 0
        7f0000100000-7f0000200000 r--p 00000000 08:01 1234                       /usr/lib/libc.so.6
        7f0000200000-7f0000300000 rw-s 00000000 00:01 99                         /dev/zero (deleted)
        7f0000300000-7f0000301000 ---p 00000000 00:00 0
        7f0000400000-7f0000500000 rw-p 00000000 00:00 0                          [anon:my buffer]
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
        7ffd00100000-7ffd00102000 r--p 00000000 00:00 0                          [vvar]
        7ffd00102000-7ffd00104000 r-xp 00000000 00:00 0                          [vdso]
        """)
    maps = parse_maps(text)
    assert len(maps) == 9 and maps[5].name == "[anon:my buffer]"
    kept = [m for m in maps if m.is_private_anonymous()]
    assert [m.name for m in kept] == ["[heap]", "", "[anon:my buffer]", "[stack]"]
    assert kept[0].size_bytes == 0x21000
    assert Mapping(0, 4096, "rw-p", "/tmp/file").is_private_anonymous() is False


@root
def test_capture_nothing_readable(child, tmp_path, monkeypatch):
    import workloads.capture as cap

    monkeypatch.setattr(cap, "parse_maps", lambda text: [])
    with pytest.raises(InputError, match=f"nothing readable in process {child.pid}"):
        capture(child.pid, tmp_path / "n.zst")
    assert not list(tmp_path.iterdir())
