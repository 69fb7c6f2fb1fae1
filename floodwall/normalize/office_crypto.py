"""Encrypted Office files (MS-OFFCRYPTO) opened with the well-known default passwords and
the passwords of the message text, so their macros and fields are analysed like any other.

Excel "protects" a workbook by encrypting it with the fixed password ``VelvetSweatshop``
(MS-OFFCRYPTO 2.3.6.1, Appendix A) and PowerPoint with ``/01Hannes Ruescher/01``: the user
sees nothing, but every scanner that does not decrypt sees an opaque OLE file. Attackers use
this to hide auto-exec macros, as oletools' olevba notes (``oletools.crypto``). olevba
decrypts through temporary files; here msoffcrypto-tool works on bytes in memory.

Attackers write these files: the key derivation of agile encryption (MS-OFFCRYPTO 2.3.4.11)
hashes the password ``spinCount`` times, and msoffcrypto accepts up to the spec's 10,000,000
(~5 CPU-s per password in Python). A spin count over ``max_spin_count`` (Office writes
100,000) is refused, and all tries of one file together hash at most ``max_hash_rounds``
times. The EncryptionInfo XML is read only when it is small. Any library error is damage:
the file is reported, never raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from floodwall.normalize.filetype import true_type
from floodwall.records import Attachment

__all__ = [
    "DEFAULT_PASSWORDS",
    "CryptoLimits",
    "Opened",
    "decrypt",
    "is_encrypted_office",
    "open_encrypted",
]

# MS-OFFCRYPTO Appendix A: Excel's write-protection password, then PowerPoint's.
DEFAULT_PASSWORDS = ("VelvetSweatshop", "/01Hannes Ruescher/01")
_OLE = bytes.fromhex("d0cf11e0a1b11ae1")
_STANDARD_ROUNDS = 50_000  # ECMA-376 Standard encryption: fixed (MS-OFFCRYPTO 2.3.4.7)
_RC4_ROUNDS = 1  # RC4 and RC4 CryptoAPI (MS-OFFCRYPTO 2.3.6 / 2.3.5): no iterated hash


@dataclass(frozen=True, slots=True)
class CryptoLimits:
    """How much work one encrypted Office file may cost before it is given up."""

    max_bytes: int = 64 << 20  # larger encrypted files are not tried
    max_info_bytes: int = 64 * 1024  # the EncryptionInfo stream (a small XML or header)
    max_spin_count: int = 500_000  # agile encryption; Office writes 100,000
    max_hash_rounds: int = 2_500_000  # hash iterations over all passwords tried
    max_passwords: int = 22  # the defaults and the message's (at most 20)


@dataclass(frozen=True, slots=True)
class Opened:
    """The outcome of one decryption: the document, the password that opened it, or why not.

    ``damaged`` says the file could not be judged at all (corrupt, over a limit): the message
    is then unscannable. ``data == b""`` without ``damaged`` means no password fitted.
    """

    data: bytes = b""
    password: str = ""
    reason: str = ""
    damaged: bool = False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """msoffcrypto and olefile log on hostile input; keep that out of our logs."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _office_file(data: bytes) -> Any:
    """msoffcrypto's reader for an OLE file (loaded at the first one: its import costs
    ~0.1 CPU-s with ``cryptography``)."""
    import msoffcrypto

    return msoffcrypto.OfficeFile(io.BytesIO(data))


def is_encrypted_office(data: bytes) -> bool:
    """Whether ``data`` is an OLE Office file with encrypted content (OOXML in an
    EncryptedPackage, or a doc/xls/ppt with RC4 encryption). Never raises."""
    if not data.startswith(_OLE):
        return False
    try:
        with _quiet():
            import olefile

            with olefile.OleFileIO(data) as ole:
                if ole.exists("EncryptionInfo"):
                    return True  # MS-OFFCRYPTO 2.3.4.4: the OOXML container
                streams = ("WordDocument", "Workbook", "PowerPoint Document")
                if not any(ole.exists(name) for name in streams):
                    return False  # not a doc, xls or ppt (MS-DOC, MS-XLS, MS-PPT 2.1)
            return bool(_office_file(data).is_encrypted())
    except Exception:  # hostile bytes: not an Office file we can judge as encrypted
        return False


def decrypt(
    data: bytes, passwords: Sequence[str] = (), limits: CryptoLimits = CryptoLimits()
) -> Opened:
    """The decrypted document, trying the default passwords, then ``passwords``."""
    if len(data) > limits.max_bytes:
        return Opened(reason=f"encrypted Office file over {limits.max_bytes >> 20} MiB")
    tries = tuple(dict.fromkeys((*DEFAULT_PASSWORDS, *passwords)))[: limits.max_passwords]
    try:
        with _quiet():
            return _decrypt(data, tries, limits)
    except Exception as err:  # attackers write the input: any library error is damage
        detail = (str(err).strip() or type(err).__name__)[:200]
        return Opened(reason=f"corrupt encrypted Office file: {detail}", damaged=True)


def _decrypt(data: bytes, tries: Sequence[str], limits: CryptoLimits) -> Opened:
    import olefile
    from msoffcrypto import exceptions

    with olefile.OleFileIO(data) as ole:
        if ole.exists("EncryptionInfo") and ole.get_size("EncryptionInfo") > limits.max_info_bytes:
            return Opened(reason="EncryptionInfo over the size limit", damaged=True)
    office = _office_file(data)
    rounds = _rounds(office)
    if rounds > limits.max_spin_count:
        reason = f"spin count {rounds} over {limits.max_spin_count} (MS-OFFCRYPTO 2.3.4.11)"
        return Opened(reason=reason, damaged=True)
    spent = 0
    for password in tries:
        if spent + rounds > limits.max_hash_rounds:
            return Opened(reason=f"password tries stopped after {spent} hash rounds")
        spent += rounds
        out = io.BytesIO()
        try:
            # No verify_password: msoffcrypto's agile check fails on files Office opens;
            # a wrong key is caught by decrypt() (the result is not a zip) or by the RC4
            # verifier that load_key always checks for doc/xls/ppt.
            office.load_key(password=password)
            office.decrypt(out)
        except exceptions.InvalidKeyError:
            continue
        return Opened(out.getvalue(), password)
    return Opened(reason="no password opens it")


def _rounds(office: Any) -> int:
    """Hash iterations one password costs for this file (the spin count for agile)."""
    if getattr(office, "format", "") != "ooxml":
        return _RC4_ROUNDS
    if office.type == "agile":
        return int(office.info["spinValue"])
    return _STANDARD_ROUNDS


def open_encrypted(
    att: Attachment, passwords: Sequence[str], limits: CryptoLimits = CryptoLimits()
) -> tuple[Attachment, list[Attachment], list[str]]:
    """An encrypted Office attachment, opened: the attachment itself (marked ``encrypted``
    when nothing opened it), the decrypted document as a member, and what went wrong.

    The member keeps the file's name (its extension is what a user double-clicks) and sits
    one level below it, at ``<path>/(decrypted)``. Its ``password`` is the message's
    password that opened it; a default password is no secret and is not recorded.
    """
    opened = decrypt(att.data, passwords, limits)
    if not opened.data:
        reasons = [f"{opened.reason} in {att.path}"] if opened.damaged else []
        return replace(att, encrypted=True), [], reasons
    member = Attachment(
        name=att.name,
        path=f"{att.path}/(decrypted)",
        depth=att.depth + 1,
        size=len(opened.data),
        sha256=hashlib.sha256(opened.data).hexdigest(),
        declared_type="",
        true_type=true_type(opened.data, att.name),
        data=opened.data,
        password="" if opened.password in DEFAULT_PASSWORDS else opened.password,
    )
    return att, [member], []
