"""Sign-up, sign-in and sign-out, independent of HTTP."""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass, field

from barehttp.app.clock import Clock, system_clock
from barehttp.app.hashing_pool import HashingBusy, HashingPool, hashing_threads_for
from barehttp.app.passwords import PasswordHasher
from barehttp.app.quota import Quota
from barehttp.app.sessions import NewSession, SessionManager
from barehttp.app.settings import AccountSettings
from barehttp.app.throttle import LoginThrottle, SignUpThrottle
from barehttp.app.validation import USERNAME, ValidationResult, validate_sign_up
from barehttp.storage.base import Session, Storage, User, UsernameTaken, check_credits_limit

logger = logging.getLogger("barehttp.app")

# Usernames are public: sign-up must say that a name is taken, so no form can keep
# it secret, and sign-in says plainly which part was wrong. What guards an account
# is its password: scrypt, and the lockout after repeated failures (throttle.py).
UNKNOWN_USER = "no account has this username"
WRONG_PASSWORD = "wrong password"


class SignUpRejected(Exception):
    """Sign-up input broke rules; `validation` holds the messages per field."""

    def __init__(self, validation: ValidationResult) -> None:
        super().__init__("sign-up rejected: " + ", ".join(sorted(validation.errors)))
        self.validation = validation


class TooManySignUps(Exception):
    """Too many sign-ups from this client address recently; retry later (429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many sign-ups from your address; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SignInError(Exception):
    """Sign-in refused; `str(error)` is safe to show to the user."""


class WrongCredentials(SignInError):
    """Unknown username (`UNKNOWN_USER`) or wrong password (`WRONG_PASSWORD`)."""

    def __init__(self, message: str = WRONG_PASSWORD) -> None:
        super().__init__(message)


class TooManyAttempts(SignInError):
    """Too many recent failures for this username or address; retry later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedIn:
    """A successful sign-in: `token` goes in the session cookie, `csrf_token` in forms."""

    user: User
    token: str = field(repr=False)
    session: Session

    @property
    def csrf_token(self) -> str:
        """The CSRF token of the new session."""
        return self.session.csrf_token


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentUser:
    """The user behind a valid session token."""

    user: User
    session: Session


class Accounts:
    """The account use cases. Build one with `make_accounts`; share it across threads."""

    def __init__(
        self,
        storage: Storage,
        *,
        hasher: PasswordHasher,
        sessions: SessionManager,
        throttle: LoginThrottle,
        sign_up_throttle: SignUpThrottle,
        quota: Quota,
        default_credits_limit: int = 100,
        clock: Clock = system_clock,
    ) -> None:
        check_credits_limit(default_credits_limit)
        self._storage = storage
        self.hasher = hasher
        self.sessions = sessions
        self.throttle = throttle
        self.sign_up_throttle = sign_up_throttle
        self.quota = quota
        self.default_credits_limit = default_credits_limit
        self._clock = clock

    def sign_up(self, username: str, email: str, password: str, address: str) -> User:
        """Create an account. Surrounding spaces of username and email are dropped.

        `address` is the client's IP address: valid sign-ups from one address are
        counted (`SignUpThrottle`) before the password is hashed.

        Raises:
            SignUpRejected: with a message per broken rule, including a taken username.
            TooManySignUps: the address signed up too often lately; nothing was hashed.
            HashingBusy: every hashing thread stayed busy; nothing was stored.
        """
        username, email = username.strip(), email.strip()
        validation = validate_sign_up(username, email, password)
        if not validation.is_valid:
            raise SignUpRejected(validation)
        if self.sign_up_throttle.claim(address) is None:
            retry_after_s = self.sign_up_throttle.retry_after_s(address)
            logger.warning("sign-up from %.64s refused for %d s", address, retry_after_s)
            raise TooManySignUps(retry_after_s)
        self._forget_expired_attempts()
        # Checked before hashing, so a flood of taken names costs no scrypt at all;
        # create_user still refuses the name if it was taken meanwhile.
        if self._storage.find_user(username) is not None:
            raise _username_taken() from None
        try:
            user = self._storage.create_user(
                username=username,
                email=email,
                password_hash=self.hasher.hash_password(password),
                credits_limit=self.default_credits_limit,
                created_at=self._clock(),
            )
        except UsernameTaken:
            raise _username_taken() from None
        logger.info("signed up %r (user %d)", user.username, user.id)
        return user

    def sign_in(self, username: str, password: str, address: str) -> SignedIn:
        """Check the password and start a new session (a new token every time).

        `address` is the client's IP address, for the lockout. The attempt is counted
        in the database before the password is checked (`LoginThrottle.claim`), so
        simultaneous guesses never evaluate more passwords than the lockout allows.

        Raises:
            TooManyAttempts: before checking anything, when locked out.
            WrongCredentials: unknown user or wrong password.
            HashingBusy: every hashing thread stayed busy; the attempt is not counted.
        """
        username = username.strip()
        attempt_id = self.throttle.claim(username, address)
        if attempt_id is None:
            retry_after_s = self.throttle.retry_after_s(username, address)
            logger.warning(
                "sign-in for %.64r from %.64s refused for %d s", username, address, retry_after_s
            )
            raise TooManyAttempts(retry_after_s)
        try:
            user = self._storage.find_user(username)
            if user is None:
                is_correct = self.hasher.verify_dummy(password)  # every attempt costs a hash
            else:
                is_correct = self.hasher.verify_password(password, user.password_hash)
        except HashingBusy:
            self._storage.release_attempt(attempt_id)  # no password was evaluated
            raise
        if user is None or not is_correct:
            # The claimed attempt stays in the database as the failure.
            self._forget_expired_attempts()
            logger.info("failed sign-in for %.64r from %.64s", username, address)
            raise WrongCredentials(UNKNOWN_USER if user is None else WRONG_PASSWORD)
        self.throttle.record_success(attempt_id, username, address)
        if self.hasher.needs_rehash(user.password_hash):
            # Parameters were raised since this hash was made; upgrade it while we
            # have the plain password.
            self._storage.set_password_hash(user.id, self.hasher.hash_password(password))
        new_session: NewSession = self.sessions.create(user.id)
        logger.info("signed in %r (user %d) from %s", user.username, user.id, address)
        return SignedIn(user=user, token=new_session.token, session=new_session.session)

    def sign_out(self, token: str) -> bool:
        """End the session of `token`; True if it existed."""
        return self.sessions.revoke(token)

    def current_user(self, token: str) -> CurrentUser | None:
        """The signed-in user for a session token, or None if invalid or expired."""
        found = self.sessions.validate_with_user(token)  # one round trip, not two
        return None if found is None else CurrentUser(user=found[1], session=found[0])

    def _forget_expired_attempts(self) -> None:
        """Drop counted attempts older than the longest window; no background job needed."""
        longest_s = max(self.throttle.window_s, self.sign_up_throttle.window_s)
        self._storage.delete_login_failures_before(self._clock() - longest_s)


def _username_taken() -> SignUpRejected:
    return SignUpRejected(
        ValidationResult(types.MappingProxyType({USERNAME: ("That username is already taken.",)}))
    )


def make_accounts(
    storage: Storage,
    settings: AccountSettings | None = None,
    *,
    clock: Clock = system_clock,
) -> Accounts:
    """Wire `Accounts` and its parts from one `AccountSettings`."""
    settings = settings if settings is not None else AccountSettings()
    pool = HashingPool(
        max_concurrent=hashing_threads_for(
            settings.password_hashing_memory_bytes, settings.scrypt.maxmem_bytes
        ),
        max_wait_s=settings.password_hashing_wait_s,
    )
    return Accounts(
        storage,
        hasher=PasswordHasher(settings.scrypt, pool),
        sessions=SessionManager(storage, lifetime_s=settings.session_lifetime_s, clock=clock),
        throttle=LoginThrottle(
            storage,
            max_failures=settings.max_failed_sign_ins,
            max_failures_per_username=settings.max_failed_sign_ins_per_username,
            max_failures_per_address=settings.max_failed_sign_ins_per_address,
            window_s=settings.failure_window_s,
            clock=clock,
        ),
        sign_up_throttle=SignUpThrottle(
            storage,
            max_sign_ups=settings.max_sign_ups_per_address,
            window_s=settings.sign_up_window_s,
            clock=clock,
        ),
        quota=Quota(storage),
        default_credits_limit=settings.default_credits_limit,
        clock=clock,
    )
