"""The lockout under real concurrency: 64 simultaneous guesses evaluate at most 5 passwords."""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.synchronize
import threading
import traceback
from collections.abc import Callable
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest

from barehttp.app.accounts import Accounts, TooManyAttempts, WrongCredentials, make_accounts
from barehttp.app.settings import AccountSettings
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FAST_SCRYPT

PASSWORD_OK = "s3cret!pw"
WRONG = "wrong!pw1"
ADDRESS = "192.0.2.10"
GUESSES = 64


def guess_together(accounts: Accounts, count: int, start: threading.Barrier) -> list[str]:
    """`count` threads each sign in with a wrong password at once; the outcome names."""
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess() -> None:
        start.wait(timeout=30)
        try:
            accounts.sign_in("alice", WRONG, ADDRESS)
            outcome = "signed in"
        except WrongCredentials:
            outcome = "wrong"
        except TooManyAttempts:
            outcome = "locked"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_simultaneous_guesses_evaluate_at_most_the_bound(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.sign_up("alice", "a@example.com", PASSWORD_OK, "198.51.100.1")
    evaluated: list[bytes] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        evaluated.append(password)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    outcomes = guess_together(accounts, GUESSES, threading.Barrier(GUESSES))
    assert sorted(outcomes).count("wrong") == 5
    assert outcomes.count("locked") == GUESSES - 5
    assert evaluated == [WRONG.encode()] * 5
    with pytest.raises(TooManyAttempts):  # the right password, sent last
        accounts.sign_in("alice", PASSWORD_OK, ADDRESS)


def guess_in_process(
    path: str, start: multiprocessing.synchronize.Barrier, results: Queue[tuple[list[str], str]]
) -> None:
    outcomes: list[str] = []
    error = ""
    try:
        storage = SQLiteStorage(path)
        accounts = make_accounts(storage, AccountSettings(scrypt=FAST_SCRYPT))
        start.wait(timeout=30)  # both processes ready before their threads race
        outcomes = guess_together(accounts, GUESSES // 2, threading.Barrier(GUESSES // 2))
        storage.close()
    except BaseException:  # report everything, the parent asserts
        error = traceback.format_exc()
        start.abort()
    results.put((outcomes, error))


def test_lockout_holds_across_processes(db_path: Path) -> None:
    with SQLiteStorage(db_path) as storage:
        make_accounts(storage, AccountSettings(scrypt=FAST_SCRYPT)).sign_up(
            "alice", "a@example.com", PASSWORD_OK, "198.51.100.1"
        )
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results: Queue[tuple[list[str], str]] = context.Queue()
    processes = [
        context.Process(target=guess_in_process, args=(str(db_path), start, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert [error for _, error in outcomes] == ["", ""]
    every = [outcome for listed, _ in outcomes for outcome in listed]
    assert len(every) == GUESSES
    assert every.count("wrong") == 5
    assert every.count("locked") == GUESSES - 5
