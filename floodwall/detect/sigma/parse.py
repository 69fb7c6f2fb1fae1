"""The pySigma adapter: parse rule files with pySigma and compile them to plain data.

Only a stale rule cache needs this module (``loader.py`` imports it then), so a hunt
that starts from the cache never pays for importing pySigma.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaRule

from floodwall.detect.sigma.compiler import RuleCompileError, compile_rule
from floodwall.detect.sigma.correlation import CorrelationCompileError, CorrelationSpec
from floodwall.detect.sigma.correlation_compile import compile_correlation
from floodwall.detect.sigma.ir import CompiledRule, RuleProblem

# The Sigma specification names UTF-16LE ``utf16le``; pySigma only knows it as ``wide``.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)


def compile_files(
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


def compile_correlations(
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
