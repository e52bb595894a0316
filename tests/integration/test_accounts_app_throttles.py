"""Sign-up throttle and busy password hashing as the browser sees them: 429 and 503."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from barehttp.storage.base import FailureScope
from tests.integration.accounts_site import (
    FAST_SETTINGS,
    main_text,
    new_client,
    running_site,
    sign_in,
    sign_up,
)

BLOCKING_PASSWORD = "block!pw1"


def test_sign_ups_beyond_the_address_bound_get_429(tmp_path: Path) -> None:
    settings = dataclasses.replace(FAST_SETTINGS, max_sign_ups_per_address=3)
    with running_site(tmp_path / "app.db", settings=settings) as site:
        for number in range(3):
            with new_client(site) as client:
                assert sign_up(client, f"user{number}").status_code == 303
        with new_client(site) as client:
            refused = sign_up(client, "onemore")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= int(settings.sign_up_window_s)
        assert "too many sign-ups" in main_text(refused.text)
        assert site.storage.find_user("onemore") is None
        with new_client(site, local_address="127.0.0.2") as elsewhere:
            assert sign_up(elsewhere, "onemore").status_code == 303


def test_busy_hashing_is_503_and_the_attempt_is_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(
        FAST_SETTINGS,
        password_hashing_memory_bytes=FAST_SETTINGS.scrypt.maxmem_bytes,  # one thread
        password_hashing_wait_s=0.2,
    )
    hashing = threading.Event()
    release = threading.Event()
    real: Callable[..., bytes] = hashlib.scrypt

    def scrypt(password: bytes, **kwargs: Any) -> bytes:
        if password == BLOCKING_PASSWORD.encode():
            hashing.set()
            assert release.wait(timeout=30)
        return real(password, **kwargs)

    with running_site(tmp_path / "app.db", settings=settings) as site:
        with new_client(site) as client:
            assert sign_up(client, "hana").status_code == 303
        monkeypatch.setattr(hashlib, "scrypt", scrypt)
        blocked: list[httpx.Response] = []

        def hold_the_hashing_thread() -> None:
            with new_client(site, local_address="127.0.0.3") as holder:
                blocked.append(sign_in(holder, "hana", BLOCKING_PASSWORD))

        holder_thread = threading.Thread(target=hold_the_hashing_thread)
        holder_thread.start()
        try:
            assert hashing.wait(timeout=30)
            with new_client(site) as client:
                busy = sign_in(client, "hana")
                assert busy.status_code == 503
                assert busy.headers["retry-after"] == "1"
                busy_sign_up = sign_up(client, "ines")
                assert busy_sign_up.status_code == 503
                assert busy_sign_up.headers["retry-after"] == "1"
        finally:
            release.set()
            holder_thread.join(timeout=30)
        assert [answer.status_code for answer in blocked] == [422]
        # Only the evaluated wrong password counts; the 503 took its attempt back.
        failures = site.storage.recent_login_failures(FailureScope.USERNAME, "hana", 0.0, 100)
        assert len(failures) == 1
        with new_client(site) as client:
            assert sign_in(client, "hana").status_code == 303
