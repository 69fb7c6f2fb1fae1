"""Password hashing behind a thin adapter over argon2-cffi, and generated passwords.

argon2id with argon2-cffi's defaults, which follow RFC 9106 §4's second recommended
option (t=3, m=64 MiB, p=4). Hashes are PHC strings (``$argon2id$v=19$...``) that carry
their own parameters, so raising them later only means rehashing at the next login.
"""

from __future__ import annotations

import secrets
import string

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 hashes any length; a cap keeps a huge body from costing more
_ALPHABET = string.ascii_letters + string.digits


class PasswordHasherAdapter:
    """Hash and check passwords; tests may pass cheaper argon2 parameters."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        # Checked against when the user does not exist, so that a wrong name takes as
        # long as a wrong password and the answer time does not reveal which names exist.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """The PHC string of ``password``."""
        return self._hasher.hash(_bytes(password))

    def is_valid(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; None spends the same time, False."""
        if len(password) > MAX_LENGTH:
            return False
        try:
            return (
                self._hasher.verify(stored or self._dummy, _bytes(password)) and stored is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def is_outdated(self, stored: str) -> bool:
        """True when ``stored`` was made with weaker parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


def _bytes(password: str) -> bytes:
    # A form or JSON body can carry lone surrogates; argon2-cffi's own str encoding
    # would raise on them. surrogatepass keeps them hashable and distinct.
    return password.encode("utf-8", "surrogatepass")


def generate_password(length: int = 20) -> str:
    """A random password from letters and digits: ~119 bits at 20 characters."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, or None. Length is what counts (NIST SP 800-63B §5.1.1)."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if password.strip() == "":
        return "a password cannot be only spaces"
    return None
