"""``zdensity validate`` and workloads.kernel_zram.  The live tests need root and zram and
skip cleanly otherwise; inputs are a few MiB generated here."""

from __future__ import annotations

import numpy as np
import pytest

from allocators.frontends import PageKind
from workloads import kernel_zram
from zdensity.cli import main

LIVE = kernel_zram.unavailable_reason() is None
_skip = pytest.mark.skipif(not LIVE, reason=f"needs root and zram: {kernel_zram.unavailable_reason()}")


def needs_zram(fn):
    return pytest.mark.zram(_skip(fn))


def mixed_pages(n: int, seed: int = 1) -> np.ndarray:
    """Random, zero, same-filled and text-like pages in a seeded order."""
    rng = np.random.default_rng(seed)
    words = np.frombuffer(b"alpha beta gamma delta epsilon zeta eta theta iota kappa ", dtype=np.uint8)
    out = np.zeros((n, 4096), dtype=np.uint8)
    for i, k in enumerate(rng.integers(0, 5, n)):
        if k == 0:
            out[i] = rng.integers(0, 256, 4096, dtype=np.uint8)
        elif k == 1:
            continue  # zero page
        elif k == 2:
            out[i] = np.resize(np.frombuffer(rng.bytes(8), dtype=np.uint8), 4096)
        else:
            text = np.resize(words, 4096).copy()
            noise = int(rng.integers(16, 3500))
            idx = rng.integers(0, 4096, noise)
            text[idx] = rng.integers(0, 256, noise, dtype=np.uint8)
            out[i] = text
    return out


def test_skipped_without_zram(monkeypatch, capsys):
    monkeypatch.setattr("zdensity.commands.validate.unavailable_reason", lambda: "not root")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.strip() == "validate: skipped (not root)"


def test_churn_parse():
    from zdensity.commands.validate import Churn
    c = Churn.parse("7:0.25")
    assert (c.seed, c.fraction) == (7, 0.25)
    assert list(c.pages(8)) == list(Churn.parse("7:0.25").pages(8)) and len(c.pages(8)) == 2
    from workloads.errors import InputError
    for bad in ("7", "x:0.5", "7:0", "7:1.5"):
        with pytest.raises(InputError):
            Churn.parse(bad)


def test_mm_stat_parse():
    s = kernel_zram.MmStat.parse("  4096  100  28672  0  28672  1  0  0  0\n")
    assert s.mem_used_total == 28672 and s.same_pages == 1
    assert kernel_zram.MmStat.parse("1 2 3 4 5 6 7").huge_pages_since == 0


@needs_zram
def test_kernel_page_sizes():
    pages = mixed_pages(300)
    ks = kernel_zram.kernel_page_sizes(iter(pages), "lzo", len(pages))
    zero = ~pages.any(axis=1)
    assert np.array_equal(ks.kinds == PageKind.ZERO, zero)
    assert np.all(ks.sizes[ks.kinds != PageKind.DATA] == 0)
    assert np.all(ks.sizes[ks.huge] == 4096) and ks.huge.sum() > 0
    assert ks.final.compr_data_size == int(ks.sizes.sum())


@needs_zram
@pytest.mark.parametrize("codec", ["lzo", "lzo-rle", "lz4"])
def test_validate_live(tmp_path, codec, capsys):
    dump = tmp_path / "mixed.bin"
    dump.write_bytes(mixed_pages(768, seed=5).tobytes())  # 3 MiB
    rc = main(["validate", "--dump", str(dump), "--codec", codec, "--churn", "3:0.3", "--compact", "--rounds", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "validate: OK" in out and sum(line.startswith("compact ") for line in out.splitlines()) == 7 and out.count("round2+compact ") == 7


@needs_zram
def test_unknown_algorithm_is_an_input_error_and_leaves_no_device(monkeypatch, capsys):
    import os
    created = []
    real_close = kernel_zram.ZramDevice.close

    def close(self):
        if self.dev_id is not None:
            created.append(self.dev_id)
        real_close(self)

    monkeypatch.setattr(kernel_zram.ZramDevice, "close", close)
    assert main(["validate", "--codec", "no-such-alg", "--max-pages", "4"]) == 2
    assert "no algorithm 'no-such-alg'" in capsys.readouterr().err
    assert len(created) == 1 and not os.path.exists(f"/sys/block/zram{created[0]}")
