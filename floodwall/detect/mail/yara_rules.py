"""A thin adapter around yara-x: compile a folder of rules once, then scan bytes.

The rest of Floodwall sees only :class:`YaraRules` and :class:`YaraMatch`, so the core
stays typed and yara-x can be swapped or upgraded in one place.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import yara_x

# The bundled rules were written for libyara tools (LOKI, THOR) that define these
# externals; a rule that names one fails to compile unless it is defined, so all five
# are defined even though no bundled rule uses them today.
EXTERNALS = ("filename", "filepath", "extension", "filetype", "owner")
# Hostile data (pathological regexes, huge files) must not hold a message forever.
DEFAULT_TIMEOUT = 5
SUFFIXES = (".yar", ".yara")
# The license of each bundled rule set, by namespace (its top folder).
LICENSES = {"signature-base": "DRL-1.1", "inquest": "MIT", "bartblaze": "MIT"}
DEFAULT_NAMESPACE = "default"
# Files left out on purpose, with why; they are reported in ``problems`` like failures.
# This regex set costs ~4.7 s per MB of link-dense text under yara-x 1.22 (measured on
# 1 MB of prose with a URL every 64 bytes), so an ordinary HTML newsletter would hit the
# timeout and be held as unscannable; the other 185 files together take ~0.1 s per MB.
SKIPPED = {
    "inquest/NTLM_Credentials_Theft_via_PDF_Files.yar": (
        "skipped: its regexes scan at ~4.7 s/MB on link-dense text under yara-x (DoS risk)"
    ),
}


class YaraScanTimeout(TimeoutError):
    """A scan ran past its timeout; the caller must not treat the data as clean."""


@dataclass(frozen=True, slots=True)
class YaraMatch:
    """A rule that matched, with the attribution its license asks to keep (DRL 1.1)."""

    rule: str
    namespace: str
    tags: tuple[str, ...]
    author: str
    description: str
    reference: str
    license: str


class YaraRules:
    """Compiled rules, and the files that could not be compiled (never dropped silently)."""

    def __init__(
        self, rules: Any, problems: list[tuple[str, str]], timeout: int = DEFAULT_TIMEOUT
    ) -> None:
        self._rules = rules
        self.problems = problems
        self.timeout = timeout
        self._local = threading.local()

    @classmethod
    def compile(
        cls, folder: Path, cache_dir: Path | None = None, *, timeout: int = DEFAULT_TIMEOUT
    ) -> YaraRules:
        """Compile every ``*.yar``/``*.yara`` under ``folder``, one namespace per top folder.

        With ``cache_dir``, the compiled rules are kept there under a key made of the
        files' names and hashes and the yara-x version, so a later run skips compiling.
        """
        files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        sources = [(PurePosixPath(p.relative_to(folder)).as_posix(), p.read_bytes()) for p in files]
        cache = cache_dir / f"yara-{_cache_key(sources)}" if cache_dir else None
        if cache is not None:
            cached = _load_cache(cache)
            if cached is not None:
                return cls(cached[0], cached[1], timeout)
        rules, problems = _build(sources)
        if cache is not None:
            _save_cache(cache, rules, problems)
        return cls(rules, problems, timeout)

    @property
    def count(self) -> int:
        """How many rules compiled."""
        return sum(1 for _ in self._rules)

    def scan(self, data: bytes, *, filename: str) -> list[YaraMatch]:
        """The rules ``data`` matches; raises :class:`YaraScanTimeout` past the timeout."""
        # One scanner per thread, reused: yara-x scanners are not shareable between
        # threads, and making one costs ~0.5 ms (more than scanning a small file). The
        # externals are all set again below for each file.
        scanner = getattr(self._local, "scanner", None)
        if scanner is None:
            scanner = yara_x.Scanner(self._rules)
            scanner.set_timeout(self.timeout)
            self._local.scanner = scanner
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        scanner.set_global("filename", name)
        scanner.set_global("filepath", filename)
        scanner.set_global("extension", f".{ext}" if ext else "")
        scanner.set_global("filetype", ext.upper())
        try:
            results = scanner.scan(data)
        except yara_x.TimeoutError as exc:
            raise YaraScanTimeout(
                f"YARA scan of {filename!r} timed out after {self.timeout} s"
            ) from exc
        return [_to_match(rule) for rule in results.matching_rules]


def _build(sources: Iterable[tuple[str, bytes]]) -> tuple[Any, list[tuple[str, str]]]:
    """Check each file on its own first, so one bad file names itself and costs only
    itself; then compile the good ones together."""
    problems: list[tuple[str, str]] = []
    good: list[tuple[str, str]] = []
    for rel, raw in sources:
        if rel in SKIPPED:
            problems.append((rel, SKIPPED[rel]))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append((rel, f"not UTF-8: {exc}"))
            continue
        try:
            compiler = _compiler()
            compiler.add_source(text, origin=rel)
            compiler.build()
        except yara_x.CompileError as exc:
            problems.append((rel, _first_line(exc)))
            continue
        good.append((rel, text))
    compiler = _compiler()
    namespace = None
    for rel, text in good:
        ns = _namespace(rel)
        if ns != namespace:
            compiler.new_namespace(ns)
            namespace = ns
        try:
            compiler.add_source(text, origin=rel)
        except yara_x.CompileError as exc:  # e.g. a rule name another file already used
            problems.append((rel, _first_line(exc)))
    return compiler.build(), problems


def _compiler() -> Any:
    compiler = yara_x.Compiler()
    compiler.enable_includes(False)  # a rule file must not read other files at run time
    for name in EXTERNALS:
        compiler.define_global(name, "")
    return compiler


def _namespace(rel: str) -> str:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else DEFAULT_NAMESPACE


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    where = next((ln.strip() for ln in lines if ln.strip().startswith("-->")), "")
    return f"{lines[0]} {where}".strip() if lines else type(exc).__name__


def _meta(meta: Iterable[tuple[str, Any]], *keys: str) -> str:
    """The first of ``keys`` in the rule's metadata, any case (InQuest writes ``Author``)."""
    found = {k.lower(): v for k, v in reversed(list(meta))}  # first value of a key wins
    for key in keys:
        if key in found and found[key] not in (None, ""):
            return str(found[key])
    return ""


def _to_match(rule: Any) -> YaraMatch:
    meta = list(rule.metadata)
    return YaraMatch(
        rule=rule.identifier,
        namespace=rule.namespace,
        tags=tuple(rule.tags),
        author=_meta(meta, "author"),
        description=_meta(meta, "description"),
        reference=_meta(meta, "reference", "url", "link"),
        license=LICENSES.get(rule.namespace, ""),
    )


def _cache_key(sources: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    digest.update(importlib.metadata.version("yara-x").encode())
    digest.update(",".join(EXTERNALS).encode())
    digest.update(",".join(sorted(SKIPPED)).encode())
    for rel, raw in sources:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(raw).digest())
    return digest.hexdigest()[:32]


def _load_cache(stem: Path) -> tuple[Any, list[tuple[str, str]]] | None:
    """The cached rules and problems, or None when absent or unreadable (then rebuild)."""
    try:
        with _sibling(stem, ".rules").open("rb") as f:
            rules = yara_x.Rules.deserialize_from(f)
        problems = json.loads(_sibling(stem, ".problems.json").read_text("utf-8"))
        return rules, [(str(a), str(b)) for a, b in problems]
    except Exception:  # a missing, truncated or foreign cache only means compiling again
        return None


def _save_cache(stem: Path, rules: Any, problems: list[tuple[str, str]]) -> None:
    """Write both files atomically; a failed write only costs the next run a compile."""
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        # Problems first: rules without their problems file are never read as a hit.
        _atomic_write(
            _sibling(stem, ".problems.json"), lambda f: f.write(json.dumps(problems).encode())
        )
        _atomic_write(_sibling(stem, ".rules"), rules.serialize_into)
    except OSError:
        pass


def _sibling(stem: Path, suffix: str) -> Path:
    return stem.parent / (stem.name + suffix)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
