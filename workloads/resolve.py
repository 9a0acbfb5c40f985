"""From what the user names to traces: inputs (dumps, core files, directories, traces,
generators) x codecs x one policy -> ``{(workload, codec label): Trace}``.  Spec syntax: ``workloads.specs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from allocators.spec import SpecError
from workloads.codecs import Codec, create_codec
from workloads.dumps import BUNDLED_SAMPLE, check_page_size, open_inputs
from workloads.errors import InputError
from workloads.measure import PageSizes, SizeCache, measure
from workloads.policies import POLICIES, Policy, Resample, resample_from
from workloads.specs import parse_spec
from workloads.synthetic import GENERATORS, Generator, PagesSource, SizeGenerator
from workloads.trace import Trace, read_trace

DEFAULT_CODECS = ("lzo", "lz4")
DEFAULT_POLICY = "fill"


def build_generator(spec: str, page_size: int = 4096) -> Generator:
    """A generator from ``--workload SPEC``."""
    cls, params = parse_spec(spec, GENERATORS, "workload")
    try:
        return cls(params, page_size)
    except ValueError as exc:
        raise SpecError(f"{cls.name}: {exc}") from None


def build_policy(spec: str | None) -> Policy:
    """A policy from ``--policy SPEC`` (default ``fill``)."""
    cls, params = parse_spec(spec or DEFAULT_POLICY, POLICIES, "policy")
    return cls(params)


def pages_resample(source: PagesSource, codec: Codec) -> Resample:
    """Fresh synthesised pages (the same recipe, a seed drawn from ``rng``), measured with
    ``codec`` in this process."""

    def draw(n: int, rng):
        fresh = source.with_seed(int(rng.integers(2**63)), n)
        ps = measure(fresh, codec, jobs=1, cache=None, progress=False)
        return ps.sizes, ps.kinds

    return draw


def load_workloads(
    dumps: Sequence[str | Path] = (),
    trace: str | Path | None = None,
    codecs: Sequence[str] = DEFAULT_CODECS,
    page_size: int = 4096,
    jobs: int | None = None,
    cache: SizeCache | None = None,
    progress: bool | None = None,
    workloads: Sequence[str] = (),
    policy: str | None = None,
) -> dict[tuple[str, str], Trace]:
    """Traces keyed by (workload, codec label).

    - ``trace``: a trace file, used as is (codec label from its sidecar, else ``trace``;
      ``policy`` does not apply).
    - ``dumps``: raw/``.zst`` dumps, ELF core files (detected by magic) and directories
      (each regular file inside one workload); measured with each codec.
    - ``workloads``: generator specs; size generators give one trace (codec label
      ``synthetic``, codecs not used), ``pages:`` recipes are measured with each codec.
    - ``policy``: one policy spec applied to every dump and generator (default ``fill``).
    With no input at all, the bundled sample dump is used.  Every spec is validated
    before any page is read or compressed.
    """
    check_page_size(page_size)
    if policy and trace is not None and not dumps and not workloads:
        raise InputError("--policy applies to dumps and --workload generators, not to a --trace (its events are fixed)")
    pol = build_policy(policy)
    gens = [build_generator(w, page_size) for w in workloads]
    codec_objs = [create_codec(c) for c in codecs]
    sources = [s for d in dumps for s in open_inputs(Path(d), page_size)]
    if not sources and not gens and trace is None:
        sources = open_inputs(BUNDLED_SAMPLE, page_size)
    out: dict[tuple[str, str], Trace] = {}

    def put(key: tuple[str, str], tr: Trace) -> None:
        if key in out:
            raise InputError(f"workload {key[0]!r} with codec {key[1]!r} given twice")
        out[key] = tr

    if trace is not None:
        t = read_trace(trace)
        put((t.name, str(t.meta.get("codec", "trace"))), t)
    for gen in gens:
        if isinstance(gen, SizeGenerator):
            ps = _nonempty(gen.page_sizes())
            put((ps.name, ps.meta["codec"]), pol.apply(ps, gen.draw))
    page_sources = [*sources, *(g for g in gens if isinstance(g, PagesSource))]
    for src in page_sources:
        for codec in codec_objs:
            ps = _nonempty(measure(src, codec, jobs=jobs, cache=cache, progress=progress))
            if isinstance(src, PagesSource):
                ps.meta.update(workload=src.spec(), generator=src.describe(), seed=src.params.seed)
            resample = pages_resample(src, codec) if isinstance(src, PagesSource) else resample_from(ps)
            put((ps.name, codec.spec()), pol.apply(ps, resample))
    return out


def _nonempty(ps: PageSizes) -> PageSizes:
    """``ps`` with ``generator``/``seed`` keys present (None for dumps); InputError when
    it has no pages."""
    if ps.n_pages == 0:
        raise InputError(f"workload {ps.name!r} has no pages")
    ps.meta.setdefault("generator", None)
    ps.meta.setdefault("seed", None)
    return ps
