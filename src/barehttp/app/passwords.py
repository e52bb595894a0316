"""Password hashing with scrypt, stored as a self-describing string, checked in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass

from barehttp.app.hashing_pool import HashingPool

logger = logging.getLogger("barehttp.app")

# scrypt$n=16384,r=8,p=1$<salt base64>$<hash base64>
_ENCODED = re.compile(
    r"scrypt\$n=(?P<n>[0-9]{1,8}),r=(?P<r>[0-9]{1,3}),p=(?P<p>[0-9]{1,3})"
    r"\$(?P<salt>[A-Za-z0-9+/]+={0,2})\$(?P<hash>[A-Za-z0-9+/]+={0,2})"
)

# Bounds on parameters read back from the database: a corrupted or hostile row must not
# make one sign-in allocate gigabytes (memory is about 128 * r * n bytes).
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16


class PasswordHashError(ValueError):
    """A stored hash string is malformed or has parameters out of bounds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScryptParams:
    """scrypt cost parameters (RFC 7914 §2). Lower them only in tests."""

    # 2**14 with r=8 takes 16 MiB and tens of ms: the scrypt paper's interactive setting.
    n: int = 2**14  # CPU/memory cost, a power of two
    r: int = 8  # block size
    p: int = 1  # parallelism
    salt_bytes: int = 16  # 128 random bits per user: no two users share a salt
    hash_bytes: int = 32

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.n > _MAX_N:
            raise ValueError(f"scrypt n must be a power of two from 2 to {_MAX_N}")
        if not 1 <= self.r <= _MAX_R or not 1 <= self.p <= _MAX_P:
            raise ValueError(f"scrypt r must be 1..{_MAX_R} and p 1..{_MAX_P}")
        if self.salt_bytes < 16 or self.hash_bytes < 16:
            raise ValueError("salt and hash must be at least 16 bytes")

    @property
    def maxmem_bytes(self) -> int:
        """Memory OpenSSL needs for these parameters, plus headroom (its default cap is 32 MiB)."""
        return 128 * self.r * (self.n + self.p + 2) + 1_048_576


@dataclass(frozen=True, slots=True)
class _Decoded:
    params: ScryptParams
    salt: bytes
    digest: bytes


class PasswordHasher:
    """Hashes and verifies passwords with one set of scrypt parameters.

    With a `pool`, every scrypt call runs on the pool's threads (bounded memory;
    `HashingBusy` when they stay busy); without, on the caller's thread.
    """

    def __init__(self, params: ScryptParams | None = None, pool: HashingPool | None = None) -> None:
        self.params = params if params is not None else ScryptParams()
        self._pool = pool
        # Verifying against this costs the same as against a real hash, so an unknown
        # username takes as long as a known one and timing does not reveal which exist.
        self._dummy_hash = self.hash_password(secrets.token_urlsafe(16))

    def hash_password(self, password: str) -> str:
        """A new `scrypt$n=..,r=..,p=..$salt$hash` string with a fresh random salt."""
        salt = secrets.token_bytes(self.params.salt_bytes)
        digest = self._scrypt(password, salt, self.params)
        return encode_hash(self.params, salt, digest)

    def verify_password(self, password: str, encoded: str) -> bool:
        """True if `password` matches `encoded`. A malformed `encoded` is logged and fails."""
        try:
            decoded = _decode(encoded)
        except PasswordHashError as error:
            logger.error("stored password hash is unusable: %s", error)
            self.verify_dummy(password)  # keep the time the same as a real check
            return False
        candidate = self._scrypt(password, decoded.salt, decoded.params)
        return hmac.compare_digest(candidate, decoded.digest)

    def verify_dummy(self, password: str) -> bool:
        """Spend the time of one verification and return False (for unknown users)."""
        self.verify_password(password, self._dummy_hash)
        return False

    def needs_rehash(self, encoded: str) -> bool:
        """True if `encoded` was made with other parameters than ours (or is malformed)."""
        try:
            decoded = _decode(encoded)
        except PasswordHashError:
            return True
        # _decode sets salt_bytes and hash_bytes from the stored lengths, so this
        # compares n, r, p and both lengths.
        return decoded.params != self.params

    def _scrypt(self, password: str, salt: bytes, params: ScryptParams) -> bytes:
        if self._pool is None:
            return _scrypt(password, salt, params)
        return self._pool.run(lambda: _scrypt(password, salt, params))


def encode_hash(params: ScryptParams, salt: bytes, digest: bytes) -> str:
    """The self-describing string: parameters travel with the hash, so they can change."""
    return (
        f"scrypt$n={params.n},r={params.r},p={params.p}"
        f"${base64.b64encode(salt).decode('ascii')}${base64.b64encode(digest).decode('ascii')}"
    )


def _decode(encoded: str) -> _Decoded:
    """Parse a stored hash string. Raises `PasswordHashError`."""
    match = _ENCODED.fullmatch(encoded)
    if match is None:
        raise PasswordHashError("not an scrypt$n=..,r=..,p=..$salt$hash string")
    try:
        salt = base64.b64decode(match["salt"], validate=True)
        digest = base64.b64decode(match["hash"], validate=True)
        params = ScryptParams(
            n=int(match["n"]),
            r=int(match["r"]),
            p=int(match["p"]),
            salt_bytes=len(salt),
            hash_bytes=len(digest),
        )
    except (binascii.Error, ValueError) as error:
        raise PasswordHashError(str(error)) from error
    return _Decoded(params, salt, digest)


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    """scrypt over the NFKC form of `password`, `params.hash_bytes` long."""
    # NIST SP 800-63B §5.1.1.2: normalize so the same password typed on another
    # keyboard or OS (composed vs decomposed accents) still matches.
    secret = unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")
    return hashlib.scrypt(
        secret,
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem_bytes,
        dklen=params.hash_bytes,
    )
