"""Opening the archives that mail carries: every member listed, flattened, within hard limits.

Attackers write these files, so nothing here trusts a header: members are read in
bounded chunks with a running count of the bytes actually produced, and the first
broken limit ends that branch with a reason (the message becomes ``unscannable``)
before the rest is decompressed. The readers for each format live in
``archive_formats``; this module holds the limits, the byte accounting and the naming.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from floodwall.normalize.filetype import true_type
from floodwall.records import Attachment

__all__ = ["CONTAINERS", "ArchiveLimits", "LimitHit", "Node", "Sink", "safe_name", "unpack"]

MIB = 1 << 20
# Types unpacked here. OOXML, JAR and MSIX are zips too, but their parts are read by
# the document detectors whole, so they stay one attachment.
CONTAINERS = frozenset({"zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "iso", "udf"})


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How far unpacking goes before it gives up and says why.

    Ratios are judged only past ``ratio_floor`` bytes: a small text file compresses
    far better than 200:1 without being a bomb.
    """

    max_depth: int = 10  # members deeper than this are not opened
    max_members: int = 10_000  # members listed, over the whole tree
    max_total_bytes: int = 512 * MIB  # bytes decompressed, over the whole tree
    max_member_bytes: int = 128 * MIB
    max_ratio: int = 200  # decompressed / compressed, per member and per archive
    ratio_floor: int = 1 * MIB
    max_kept_bytes: int = 64 * MIB  # member data kept for detectors, over the whole tree
    max_archives: int = 1_000  # archives opened (each costs a directory parse)
    max_password_tries: int = 20
    chunk_bytes: int = 64 * 1024


class LimitHit(Exception):
    """A limit was broken; ``everything`` stops the whole unpack, not only this branch."""

    def __init__(self, reason: str, *, everything: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.everything = everything


@dataclass(slots=True)
class Node:
    """One archive being read: where it sits, its bytes, and what came out of it so far."""

    path: str
    depth: int
    data: bytes
    unpacked: int = 0


def safe_name(raw: str) -> tuple[str, bool]:
    """The member's path inside its archive, made harmless, and whether it needed that.

    APPNOTE 4.4.17.1: names are relative and use forward slashes only, so a backslash,
    a leading slash or drive, a ".." part or a NUL is an attack on the extractor.
    A NUL ends the name, as C-based extractors would read it.
    """
    unsafe = False
    name = raw
    if "\x00" in name:
        name, unsafe = name.split("\x00", 1)[0], True
    if "\\" in name:
        name, unsafe = name.replace("\\", "/"), True
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        unsafe = True
    parts = []
    for part in name.split("/"):
        if part == "..":
            unsafe = True
        elif part not in ("", ".") and not (len(part) == 2 and part[1] == ":"):
            parts.append(part)
    return "/".join(parts) or "unnamed", unsafe


class Sink:
    """One member's bytes as they are decompressed; every chunk is checked on arrival."""

    def __init__(self, walker: Walker, node: Node, raw_name: str, compressed: int | None) -> None:
        self.walker = walker
        self.node = node
        self.raw_name = raw_name
        self.rel, self.unsafe = safe_name(raw_name)
        self.path = f"{node.path}/{self.rel}"
        # The header's compressed size may lie; it can never exceed the archive itself.
        archive_len = max(1, len(node.data))
        self.compressed = max(1, min(compressed or archive_len, archive_len))
        self.size = 0
        self.hash = hashlib.sha256()
        self.buf = bytearray()

    def write(self, chunk: bytes | bytearray) -> int:
        n = len(chunk)
        w, lim, node = self.walker, self.walker.limits, self.node
        self.size += n
        node.unpacked += n
        w.total += n
        if w.total > lim.max_total_bytes:
            raise LimitHit(f"total unpacked size over {_mib(lim.max_total_bytes)}", everything=True)
        if self.size > lim.max_member_bytes:
            raise LimitHit(f"member over {_mib(lim.max_member_bytes)} at {self.path}")
        if self.size > lim.ratio_floor and self.size > lim.max_ratio * self.compressed:
            raise LimitHit(f"zip bomb: ratio {self.size // self.compressed}:1 in {self.path}")
        if node.unpacked > lim.ratio_floor and node.unpacked > lim.max_ratio * len(node.data):
            ratio = node.unpacked // max(1, len(node.data))
            raise LimitHit(f"zip bomb: ratio {ratio}:1 in {node.path}")
        if w.total > lim.ratio_floor and w.total > lim.max_ratio * w.top_size:
            ratio = w.total // w.top_size
            raise LimitHit(f"zip bomb: ratio {ratio}:1 overall in {w.top_path}", everything=True)
        self.hash.update(chunk)
        self.buf += chunk
        return n

    def drain(self, read: Callable[[int], bytes]) -> Sink:
        """Read a stream to its end in bounded chunks (never an unbounded ``read()``)."""
        while chunk := read(self.walker.limits.chunk_bytes):
            self.write(chunk)
        return self


class Walker:
    """The state of one ``unpack`` call: the running counts, the members, the reasons."""

    def __init__(self, top: Attachment, passwords: Sequence[str], limits: ArchiveLimits) -> None:
        self.limits = limits
        self.passwords = tuple(dict.fromkeys(passwords))[: limits.max_password_tries]
        self.top_path = top.path or top.name
        self.top_size = max(1, len(top.data))
        self.members: list[Attachment] = []
        self.reasons: list[str] = []
        self.total = 0
        self.kept = 0
        self.count = 0
        self.opened = 0
        self.rar_noted = False

    def admit(self, node: Node) -> None:
        """Count one more member before anything of it is read."""
        self.count += 1
        if self.count > self.limits.max_members:
            raise LimitHit(
                f"more than {self.limits.max_members} members in {node.path}", everything=True
            )

    def note_once(self, reason: str) -> None:
        if not self.rar_noted:
            self.rar_noted = True
            self.reasons.append(reason)

    def emit(
        self,
        node: Node,
        sink: Sink,
        *,
        complete: bool = True,
        encrypted: bool = False,
        password: str = "",
        size: int | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        """Record one member; open it in turn when it is itself an archive."""
        notes = list(problems)
        if sink.unsafe:
            notes.append(f"unsafe file name: {sink.raw_name!r}")
        data = bytes(sink.buf) if complete else b""
        sink.buf = bytearray()
        kind = true_type(data, sink.rel) if data else ("unknown" if sink.size else "empty")
        keep = complete and self.kept + len(data) <= self.limits.max_kept_bytes
        if complete and not keep:
            notes.append(f"data not kept: over {_mib(self.limits.max_kept_bytes)} kept in all")
        self.kept += len(data) if keep else 0
        self.members.append(
            Attachment(
                name=sink.rel.rsplit("/", 1)[-1],
                path=sink.path,
                depth=node.depth + 1,
                size=sink.size if complete else (size or sink.size),
                sha256=sink.hash.hexdigest() if complete else "",
                declared_type="",
                true_type=kind if complete else "unknown",
                data=data if keep else b"",
                encrypted=encrypted,
                password=password,
                problems=tuple(notes),
            )
        )
        if complete and kind in CONTAINERS:
            self.open(Node(sink.path, node.depth + 1, data), kind)

    def listed(
        self,
        node: Node,
        raw_name: str,
        *,
        size: int = 0,
        encrypted: bool = False,
        problems: Sequence[str] = (),
    ) -> None:
        """Record a member whose name is known but whose bytes were not read."""
        sink = Sink(self, node, raw_name, None)
        self.emit(node, sink, complete=False, size=size, encrypted=encrypted, problems=problems)

    def open(self, node: Node, kind: str) -> None:
        """Read one archive; a limit or damage ends this branch with a reason, never a raise."""
        if node.depth + 1 > self.limits.max_depth:
            self.reasons.append(
                f"archive nesting deeper than {self.limits.max_depth} at {node.path}"
            )
            return
        self.opened += 1
        if self.opened > self.limits.max_archives:
            raise LimitHit(f"more than {self.limits.max_archives} archives opened", everything=True)
        try:
            # The readers (py7zr, pycdlib, rarfile ...) load at the first archive: their
            # imports cost every ``mail scan`` run ~0.1 CPU-s, most runs open no archive.
            from floodwall.normalize import archive_formats

            archive_formats.READERS[kind](self, node)
        except Exception as err:  # attackers write the input: any library error is damage
            hit = _limit_in(err)
            if hit is None:
                self.reasons.append(f"corrupt archive: {_detail(err)} in {node.path}")
            elif hit.everything:
                raise hit from None
            else:
                self.reasons.append(hit.reason)


def unpack(
    att: Attachment, *, passwords: Sequence[str], limits: ArchiveLimits = ArchiveLimits()
) -> tuple[list[Attachment], list[str]]:
    """Every member of ``att`` (an archive), flattened, and why unpacking stopped short.

    Returns ``([], [])`` for an attachment that is not an archive. Never raises.
    """
    kind = att.true_type if att.true_type in CONTAINERS else true_type(att.data, att.name)
    if kind not in CONTAINERS:
        return [], []
    walker = Walker(att, passwords, limits)
    try:
        walker.open(Node(walker.top_path, att.depth, att.data), kind)
    except LimitHit as hit:
        walker.reasons.append(hit.reason)
    except Exception as err:  # a reader bug must not lose the message: say so, hold it
        walker.reasons.append(f"corrupt archive: {_detail(err)} in {walker.top_path}")
    return walker.members, walker.reasons


def _limit_in(err: BaseException) -> LimitHit | None:
    """Our own limit, even when a library wrapped it in its own exception."""
    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, LimitHit):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _detail(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text[:200]


def _mib(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n} bytes"
