"""Read Sigma rule files with pySigma, compile them, and cache the result on disk.

Parsing ~3,750 SigmaHQ rules with pySigma takes several seconds, so the compiled rules
are cached under a key made of every file's path, size and mtime (and the compiler's
version): the first hunt pays once, later hunts start at once. A rule that cannot be
read or compiled is kept as a ``RuleProblem`` with its reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floodwall.cachefiles import mark_used, prune_unused
from floodwall.detect.sigma.correlation import CorrelationSpec
from floodwall.detect.sigma.ir import IR_VERSION, CompiledRule, RuleProblem

SIGMAHQ_BLOB = "https://github.com/SigmaHQ/sigma/blob/master/"
RULE_SUFFIXES = (".yml", ".yaml")


@dataclass
class RuleSet:
    """Every rule that loaded, every correlation, and every rule that did not, with why."""

    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CorrelationSpec] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    from_cache: bool = False


@dataclass(frozen=True)
class RuleDir:
    """A directory of rules and how to link to its rules (DRL 1.1 asks for a link)."""

    path: Path
    link_base: str | None = None  # e.g. the SigmaHQ blob URL for the bundled rules
    link_root: Path | None = None  # path that link_base corresponds to


def rule_files(dirs: Sequence[RuleDir]) -> list[tuple[str, RuleDir]]:
    """Every rule file under ``dirs``, sorted, hidden folders skipped. Plain strings: a
    hunt walks 3,700 of them at every start, and ``Path`` objects cost a third of that."""
    out: list[tuple[str, RuleDir]] = []
    for d in dirs:
        if d.path.is_file():
            out.append((str(d.path), d))
            continue
        for root, subdirs, names in os.walk(d.path):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith("."))
            join = os.path.join
            out.extend((join(root, n), d) for n in sorted(names) if n.endswith(RULE_SUFFIXES))
    return out


def _link(path: str, d: RuleDir) -> str:
    resolved = Path(path).resolve()
    if d.link_base and d.link_root:
        return d.link_base + resolved.relative_to(d.link_root.resolve()).as_posix()
    return resolved.as_uri()


#: The modules whose code decides what the cache holds.
_COMPILER_SOURCES = (
    "anchors.py", "compiler.py", "correlation.py", "correlation_compile.py", "ir.py",
    "loader.py", "parse.py",
)  # fmt: skip


def _compiler_fingerprint() -> bytes:
    """The compiler's own source: a cache made by other code is never trusted. Read from
    the files, not imported: importing the compiler would import pySigma."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _COMPILER_SOURCES:
        h.update((here / name).read_bytes())
    return h.digest()


def _cache_key(files: list[tuple[str, RuleDir]], placeholders: Mapping[str, Sequence[str]]) -> str:
    h = hashlib.sha256(f"{IR_VERSION}|sigma|{sorted(placeholders.items())}".encode())
    h.update(_compiler_fingerprint())
    for p, d in files:
        st = os.stat(p)
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}|{d.link_base}\n".encode())
    return h.hexdigest()[:32]


def load_rules(
    dirs: Sequence[RuleDir],
    *,
    cache_dir: Path | None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    workers: int = 2,
    on_compile: Callable[[int], None] | None = None,
) -> RuleSet:
    """Load every rule under ``dirs``; use the cache in ``cache_dir`` when it is current."""
    ph = {k: list(v) for k, v in (placeholders or {}).items()}
    files = rule_files(dirs)
    key = _cache_key(files, ph)
    cache = cache_dir / f"sigma-{key}.pickle" if cache_dir else None
    if cache and cache.exists():
        try:
            with cache.open("rb") as fh:
                cached: RuleSet = pickle.load(fh)
            cached.from_cache = True
            mark_used(cache)
            return cached
        except Exception:  # a torn or old cache is rebuilt, never trusted
            cache.unlink(missing_ok=True)
    if on_compile:
        on_compile(len(files))
    # pySigma (a tenth of a second to import) is only needed when the cache is stale.
    from floodwall.detect.sigma.parse import compile_correlations, compile_files

    pairs = [(p, _link(p, d)) for p, d in files]
    result = RuleSet(files=len(files))
    corr_files: list[str] = []
    chunks = (
        [pairs[i::workers] for i in range(workers)] if workers > 1 and len(pairs) > 64 else [pairs]
    )
    if len(chunks) > 1:
        # Imported here: only a run that compiles rules needs it (8 ms of every start).
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(len(chunks)) as pool:
            parts = list(pool.map(compile_files, [(c, ph) for c in chunks]))
    else:
        parts = [compile_files((pairs, ph))]
    for rules, problems, corr in parts:
        result.rules.extend(rules)
        result.problems.extend(problems)
        corr_files.extend(corr)
    result.rules.sort(key=lambda r: (r.path, r.id))
    result.problems.sort(key=lambda p: (p.path, p.title))
    if corr_files:
        specs, problems = compile_correlations(sorted(corr_files), result.rules)
        result.correlations = specs
        result.problems.extend(problems)
    if cache:
        _write_cache(cache, result)
    return result


def _write_cache(path: Path, result: Any) -> None:
    # Write then rename, so a concurrent hunt never reads a half-written cache.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    prune_unused(path.parent, "sigma-*.pickle")
