"""zswap / zswap-legacy with zbud, z3fold and zsmalloc against the real kernels' counters on
the bundled sample dump (pages stored once each, in address order, no frees).

Kernel numbers (golden): ``/work/shared/kernel-oracle/zswap-oracle sample.bin -p POOL -c lzo
-k 6.1|6.12`` (Debian 6.1.192 / 6.12.117 under qemu; one MADV_PAGEOUT pass) on
``sample.bin`` = ``zstd -d workloads/data/sample.zst`` (sha256 d308a3d2c996e049...).
``refused`` = input pages - stored_pages (= pswpout: pages that went to the swap disk).

* userspace lzo (miniLZO, ``workloads.codecs``): pool pages within 0.5 % of the kernel's;
* the kernel's own lzo sizes (live zram of the running kernel, root only, ``zram`` marker;
  pages zram stored whole and 6.12's same-filled pages use the userspace size): exact.
"""

from __future__ import annotations

import numpy as np
import pytest

import allocators as A
from allocators.frontends import FRONTENDS, PageKind, create_frontend
from allocators.presets import preset_params
from workloads import kernel_zram
from workloads.codecs import create_codec
from workloads.dumps import BUNDLED_SAMPLE, DumpSource

# (release, pool): (pool_total_size / 4096, stored_pages, reject_compress_poor, refused)
KERNEL = {
    ("6.1", "zbud"): (4160, 8728, 0, 791),
    ("6.1", "z3fold"): (2848, 8728, 0, 791),
    ("6.1", "zsmalloc"): (2121, 8728, 0, 791),
    ("6.12", "zbud"): (4209, 8418, 0, 791),
    ("6.12", "zsmalloc"): (2316, 8418, 0, 791),
}
FRONTEND = {"6.1": "zswap-legacy", "6.12": "zswap"}
LIVE = kernel_zram.unavailable_reason() is None


@pytest.fixture(scope="module")
def sample():
    pages = np.concatenate(list(DumpSource(BUNDLED_SAMPLE).chunks()))
    words = pages.view(np.uint64)
    same = (words == words[:, :1]).all(axis=1)
    kinds = np.where(same, np.where(words[:, 0] == 0, int(PageKind.ZERO), int(PageKind.SAME)), int(PageKind.DATA))
    lzo = create_codec("lzo")
    user = np.array([lzo.compressed_size(p.tobytes()) if k != PageKind.ZERO else 0 for p, k in zip(pages, kinds)])
    return pages, kinds, user


def run(release: str, pool: str, sizes: np.ndarray, kinds: np.ndarray):
    cls = A.REGISTRY[pool]
    alloc = A.create(pool, preset_params(release, pool, cls.Params))
    name = FRONTEND[release]
    f = create_frontend(name, alloc, preset_params(release, name, FRONTENDS[name].Params))
    for i, (size, kind) in enumerate(zip(sizes.tolist(), kinds.tolist())):
        f.store(i, size, PageKind(kind))
    c = f.counters()
    return f.pool_pages(), c["stored_pages"], c["reject_compress_poor"], f.rejected_pages


@pytest.mark.parametrize("release,pool", sorted(KERNEL))
def test_userspace_lzo_within_half_a_percent(sample, release, pool):
    _, kinds, user = sample
    pages, stored, _, refused = run(release, pool, user, kinds)
    k_pages, k_stored, _, k_refused = KERNEL[release, pool]
    assert abs(pages - k_pages) <= 0.005 * k_pages
    assert abs(stored - k_stored) <= 3 and abs(refused - k_refused) <= 3


@pytest.fixture(scope="module")
def kernel_sizes(sample):
    pages, kinds, user = sample
    ks = kernel_zram.kernel_page_sizes(iter(pages), "lzo", len(pages))
    assert np.array_equal(ks.kinds != PageKind.DATA, kinds != PageKind.DATA)
    sizes = ks.sizes.astype(np.int64)
    from_user = ks.huge | (kinds == PageKind.SAME)
    sizes[from_user] = user[from_user]
    return sizes


@pytest.mark.zram
@pytest.mark.skipif(not LIVE, reason=f"needs root and zram: {kernel_zram.unavailable_reason()}")
@pytest.mark.parametrize("release,pool", sorted(KERNEL))
def test_kernel_lzo_sizes_exact(sample, kernel_sizes, release, pool):
    assert run(release, pool, kernel_sizes, sample[1]) == KERNEL[release, pool]
