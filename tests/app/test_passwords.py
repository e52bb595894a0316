"""Password hashing: scrypt round trip, stored parameters, dummy work, bad stored strings."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from barehttp.app.passwords import PasswordHasher, ScryptParams, encode_hash
from tests.app.conftest import FAST_SCRYPT

ENCODED = re.compile(r"scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(FAST_SCRYPT)


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records the password bytes of every scrypt call."""
    calls: list[bytes] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        calls.append(password)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def test_round_trip(hasher: PasswordHasher) -> None:
    encoded = hasher.hash_password("s3cret!pw")
    assert hasher.verify_password("s3cret!pw", encoded)


@pytest.mark.parametrize(
    "attempt",
    ["s3cret!pW", "s3cret!p", "s3cret!pw ", ""],
    ids=["case", "prefix", "trailing-space", "empty"],
)
def test_wrong_password_fails(hasher: PasswordHasher, attempt: str) -> None:
    assert not hasher.verify_password(attempt, hasher.hash_password("s3cret!pw"))


def test_parameters_and_salt_stored_in_string() -> None:
    params = ScryptParams(n=16, r=2, p=1)
    encoded = PasswordHasher(params).hash_password("s3cret!pw")
    match = ENCODED.fullmatch(encoded)
    assert match is not None
    assert (match[1], match[2], match[3]) == ("16", "2", "1")
    salt, digest = base64.b64decode(match[4]), base64.b64decode(match[5])
    assert (len(salt), len(digest)) == (params.salt_bytes, params.hash_bytes)
    expected = hashlib.scrypt(b"s3cret!pw", salt=salt, n=16, r=2, p=1, dklen=len(digest))
    assert digest == expected


def test_each_hash_has_its_own_salt(hasher: PasswordHasher) -> None:
    assert hasher.hash_password("s3cret!pw") != hasher.hash_password("s3cret!pw")


def test_default_parameters() -> None:
    params = ScryptParams()
    assert (params.n, params.r, params.p) == (2**14, 8, 1)
    assert PasswordHasher().hash_password("x").startswith("scrypt$n=16384,r=8,p=1$")


def test_verify_uses_stored_parameters_not_current_ones() -> None:
    old = PasswordHasher(ScryptParams(n=4, r=1, p=1)).hash_password("s3cret!pw")
    current = PasswordHasher(ScryptParams(n=8, r=2, p=1))
    assert current.verify_password("s3cret!pw", old)
    assert current.needs_rehash(old)
    assert not current.needs_rehash(current.hash_password("s3cret!pw"))


def test_compatible_normalization_forms_match(hasher: PasswordHasher) -> None:
    composed, decomposed = "caf\u00e9 pw1!", "cafe\u0301 pw1!"
    assert hasher.verify_password(decomposed, hasher.hash_password(composed))


def test_verify_dummy_does_the_same_scrypt_work(
    hasher: PasswordHasher, scrypt_calls: list[bytes]
) -> None:
    assert hasher.verify_dummy("s3cret!pw") is False
    assert scrypt_calls == [b"s3cret!pw"]


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "bcrypt$n=2,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$n=2,r=1,p=1$not base64!$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$n=3,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$n=2,r=1,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$n=2097152,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",
    ],
    ids=[
        "empty",
        "plaintext",
        "other-algorithm",
        "bad-base64",
        "n-not-power-of-two",
        "short-salt",
        "n-too-large",
    ],
)
def test_malformed_stored_hash_fails_after_same_work(
    hasher: PasswordHasher, scrypt_calls: list[bytes], stored: str
) -> None:
    assert hasher.verify_password("s3cret!pw", stored) is False
    assert len(scrypt_calls) == 1  # the dummy, so timing stays even
    assert hasher.needs_rehash(stored)


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 1}, {"n": 24}, {"n": 2**21}, {"r": 0}, {"p": 0}, {"salt_bytes": 8}, {"hash_bytes": 8}],
    ids=["n-1", "n-not-power", "n-huge", "r-0", "p-0", "short-salt", "short-hash"],
)
def test_rejects_bad_parameters(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ScryptParams(**kwargs)


def test_encode_hash_format() -> None:
    encoded = encode_hash(ScryptParams(n=2, r=1, p=1), b"\x00" * 16, b"\xff" * 16)
    assert encoded == ("scrypt$n=2,r=1,p=1$AAAAAAAAAAAAAAAAAAAAAA==$/////////////////////w==")
