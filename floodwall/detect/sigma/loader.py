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
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sigma
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule

from floodwall.detect.sigma.compiler import RuleCompileError, compile_rule
from floodwall.detect.sigma.correlation import (
    CorrelationCompileError,
    CorrelationSpec,
    compile_correlation,
)
from floodwall.detect.sigma.ir import IR_VERSION, CompiledRule, RuleProblem

# The Sigma specification names UTF-16LE ``utf16le``; pySigma only knows it as ``wide``.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

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


def rule_files(dirs: Sequence[RuleDir]) -> list[tuple[Path, RuleDir]]:
    """Every rule file under ``dirs``, sorted, hidden folders skipped."""
    out: list[tuple[Path, RuleDir]] = []
    for d in dirs:
        if d.path.is_file():
            out.append((d.path, d))
            continue
        for root, subdirs, names in os.walk(d.path):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith("."))
            out.extend((Path(root) / n, d) for n in sorted(names) if n.endswith(RULE_SUFFIXES))
    return out


def _link(path: Path, d: RuleDir) -> str:
    if d.link_base and d.link_root:
        return d.link_base + path.resolve().relative_to(d.link_root.resolve()).as_posix()
    return path.resolve().as_uri()


def _compiler_fingerprint() -> bytes:
    """The compiler's own source: a cache made by other code is never trusted."""
    from floodwall.detect.sigma import anchors, compiler, correlation, ir

    h = hashlib.sha256()
    for module in (anchors, compiler, correlation, ir, sys.modules[__name__]):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.digest()


def _cache_key(files: list[tuple[Path, RuleDir]], placeholders: Mapping[str, Sequence[str]]) -> str:
    h = hashlib.sha256(f"{IR_VERSION}|{sigma.__name__}|{sorted(placeholders.items())}".encode())
    h.update(_compiler_fingerprint())
    for p, d in files:
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}|{d.link_base}\n".encode())
    return h.hexdigest()[:32]


def _compile_files(
    job: tuple[list[tuple[str, str]], dict[str, list[str]]],
) -> tuple[list[CompiledRule], list[RuleProblem], list[str]]:
    """Worker: parse and compile a list of (path, link) files. Returns rules, problems and
    the paths of files holding correlation rules (compiled later, with all rules known)."""
    files, placeholders = job
    rules: list[CompiledRule] = []
    problems: list[RuleProblem] = []
    corr_files: list[str] = []
    for path, link in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(text, collect_errors=True)
        except Exception as exc:  # unreadable file, YAML error, pySigma error: all shown
            problems.append(RuleProblem(path, "", f"cannot parse: {exc}"))
            continue
        for r in collection.rules:
            if isinstance(r, SigmaCorrelationRule):
                if path not in corr_files:
                    corr_files.append(path)
                continue
            if not isinstance(r, SigmaRule):
                continue
            try:
                rules.append(compile_rule(r, path=path, link=link, placeholders=placeholders))
            except (RuleCompileError, ValueError) as exc:
                problems.append(RuleProblem(path, r.title, str(exc)))
    return rules, problems, corr_files


def _compile_correlations(
    paths: list[str], rules: list[CompiledRule]
) -> tuple[list[CorrelationSpec], list[RuleProblem]]:
    """Compile correlation rules together with the base rules they reference by name or id."""
    by_ref = {r.name: r.path for r in rules if r.name}
    by_ref.update({r.id: r.path for r in rules})
    specs: list[CorrelationSpec] = []
    problems: list[RuleProblem] = []
    seen: set[str] = set()
    for path in paths:
        try:
            docs = [d for d in yaml.safe_load_all(Path(path).read_text("utf-8")) if d]
            needed = {
                by_ref[ref]
                for d in docs
                for ref in (d.get("correlation") or {}).get("rules", []) or []
                if ref in by_ref and by_ref[ref] != path
            }
            for extra in sorted(needed):
                docs.extend(d for d in yaml.safe_load_all(Path(extra).read_text("utf-8")) if d)
            collection = SigmaCollection.from_dicts(docs, collect_errors=True)
            collection.resolve_rule_references()
        except Exception as exc:  # pySigma raises many types for broken references
            problems.append(RuleProblem(path, "", f"correlation cannot be resolved: {exc}"))
            continue
        for r in collection.rules:
            # A file pulled in for its base rules may hold correlations of its own:
            # each correlation is compiled once.
            if isinstance(r, SigmaCorrelationRule) and str(r.id) not in seen:
                seen.add(str(r.id))
                try:
                    specs.append(compile_correlation(r))
                except (CorrelationCompileError, ValueError) as exc:
                    problems.append(RuleProblem(path, r.title, str(exc)))
    return specs, problems


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
            return cached
        except Exception:  # a torn or old cache is rebuilt, never trusted
            cache.unlink(missing_ok=True)
    if on_compile:
        on_compile(len(files))
    pairs = [(str(p), _link(p, d)) for p, d in files]
    result = RuleSet(files=len(files))
    corr_files: list[str] = []
    chunks = (
        [pairs[i::workers] for i in range(workers)] if workers > 1 and len(pairs) > 64 else [pairs]
    )
    if len(chunks) > 1:
        with ProcessPoolExecutor(len(chunks)) as pool:
            parts = list(pool.map(_compile_files, [(c, ph) for c in chunks]))
    else:
        parts = [_compile_files((pairs, ph))]
    for rules, problems, corr in parts:
        result.rules.extend(rules)
        result.problems.extend(problems)
        corr_files.extend(corr)
    result.rules.sort(key=lambda r: (r.path, r.id))
    result.problems.sort(key=lambda p: (p.path, p.title))
    if corr_files:
        specs, problems = _compile_correlations(sorted(corr_files), result.rules)
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
