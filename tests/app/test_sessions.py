"""Sessions: tokens, only their hash stored, expiry, purge, revoke, CSRF."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from barehttp.app.sessions import SessionManager, check_csrf, hash_token
from barehttp.storage.base import User
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FakeClock

LIFETIME_S = 600.0


@pytest.fixture
def user(storage: SQLiteStorage) -> User:
    return storage.create_user(
        username="alice", email="a@example.com", password_hash="h", credits_limit=1, created_at=0
    )


@pytest.fixture
def sessions(storage: SQLiteStorage, clock: FakeClock) -> SessionManager:
    return SessionManager(storage, lifetime_s=LIFETIME_S, clock=clock)


def test_create_gives_64_hex_token_that_validates(sessions: SessionManager, user: User) -> None:
    created = sessions.create(user.id)
    assert len(created.token) == 64 and int(created.token, 16) >= 0
    session = sessions.validate(created.token)
    assert session is not None and session.user_id == user.id


def test_lifetime_is_configurable(sessions: SessionManager, user: User, clock: FakeClock) -> None:
    created = sessions.create(user.id)
    assert created.session.expires_at == clock.now + LIFETIME_S


def test_only_hash_of_token_is_stored(sessions: SessionManager, user: User, db_path: Path) -> None:
    created = sessions.create(user.id)
    token_bytes = bytes.fromhex(created.token)
    raw = sqlite3.connect(db_path)
    rows = raw.execute("SELECT * FROM sessions").fetchall()
    raw.close()
    assert len(rows) == 1
    assert hashlib.sha256(token_bytes).digest() in rows[0]
    for value in rows[0]:
        assert value != token_bytes
        assert created.token not in str(value)
        if isinstance(value, bytes):
            assert created.token.encode() not in value


def test_token_not_in_repr(sessions: SessionManager, user: User) -> None:
    created = sessions.create(user.id)
    assert created.token not in repr(created)
    assert created.csrf_token not in repr(created)


def test_each_create_gives_new_tokens(sessions: SessionManager, user: User) -> None:
    first, second = sessions.create(user.id), sessions.create(user.id)
    assert first.token != second.token
    assert first.csrf_token != second.csrf_token


def test_expired_session_refused_and_deleted(
    sessions: SessionManager, user: User, clock: FakeClock, storage: SQLiteStorage
) -> None:
    created = sessions.create(user.id)
    clock.advance(LIFETIME_S - 1)
    assert sessions.validate(created.token) is not None
    clock.advance(1)  # exactly at expires_at: refused
    assert sessions.validate(created.token) is None
    assert storage.get_session(created.session.token_hash) is None


def test_purge_expired_deletes_only_expired(
    sessions: SessionManager, user: User, clock: FakeClock, storage: SQLiteStorage
) -> None:
    old = [sessions.create(user.id) for _ in range(3)]
    clock.advance(LIFETIME_S / 2)
    young = sessions.create(user.id)
    clock.advance(LIFETIME_S / 2)
    assert sessions.purge_expired() == 3
    for created in old:
        assert storage.get_session(created.session.token_hash) is None
    assert storage.get_session(young.session.token_hash) is not None


def test_create_purges_expired_sessions(
    sessions: SessionManager, user: User, clock: FakeClock, storage: SQLiteStorage
) -> None:
    old = sessions.create(user.id)
    clock.advance(LIFETIME_S)
    sessions.create(user.id)
    assert storage.get_session(old.session.token_hash) is None


def test_revoke(sessions: SessionManager, user: User) -> None:
    created = sessions.create(user.id)
    other = sessions.create(user.id)
    assert sessions.revoke(created.token) is True
    assert sessions.validate(created.token) is None
    assert sessions.validate(other.token) is not None
    assert sessions.revoke(created.token) is False


def test_revoke_all(sessions: SessionManager, user: User) -> None:
    tokens = [sessions.create(user.id).token for _ in range(2)]
    assert sessions.revoke_all(user.id) == 2
    assert all(sessions.validate(token) is None for token in tokens)


def test_revoked_in_other_storage_is_refused_at_once(
    sessions: SessionManager, user: User, db_path: Path
) -> None:
    created = sessions.create(user.id)
    assert sessions.validate(created.token) is not None
    other_worker = SQLiteStorage(db_path)
    SessionManager(other_worker).revoke(created.token)
    other_worker.close()
    assert sessions.validate(created.token) is None


@pytest.mark.parametrize(
    "token",
    ["", "0" * 63, "0" * 65, "g" * 64, "A" * 64, " " + "0" * 63, "0" * 62 + "\n0", "é" * 64],
    ids=["empty", "63-chars", "65-chars", "non-hex", "uppercase", "space", "newline", "unicode"],
)
def test_malformed_token_is_refused(sessions: SessionManager, token: str) -> None:
    assert hash_token(token) is None
    assert sessions.validate(token) is None
    assert sessions.revoke(token) is False


def test_unknown_well_formed_token_is_refused(sessions: SessionManager) -> None:
    assert sessions.validate("0" * 64) is None


def test_csrf_token_matches_only_itself(sessions: SessionManager, user: User) -> None:
    created = sessions.create(user.id)
    other = sessions.create(user.id)
    assert len(created.csrf_token) >= 32
    assert check_csrf(created.session, created.csrf_token)
    assert not check_csrf(created.session, other.csrf_token)


@pytest.mark.parametrize(
    "submitted",
    ["", "x", "\ud800", "é" * 43],
    ids=["empty", "short", "lone-surrogate", "non-ascii"],
)
def test_csrf_rejects_junk_without_raising(
    sessions: SessionManager, user: User, submitted: str
) -> None:
    assert not check_csrf(sessions.create(user.id).session, submitted)


def test_csrf_token_is_stored_with_session(
    sessions: SessionManager, user: User, storage: SQLiteStorage
) -> None:
    created = sessions.create(user.id)
    validated = sessions.validate(created.token)
    assert validated is not None and check_csrf(validated, created.csrf_token)


def test_rejects_non_positive_lifetime(storage: SQLiteStorage) -> None:
    with pytest.raises(ValueError):
        SessionManager(storage, lifetime_s=0)
