"""Sign-up, sign-in and sign-out, independent of HTTP."""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass, field

from barehttp.app.clock import Clock, system_clock
from barehttp.app.passwords import PasswordHasher
from barehttp.app.quota import Quota
from barehttp.app.sessions import NewSession, SessionManager
from barehttp.app.settings import AccountSettings
from barehttp.app.throttle import LoginThrottle
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
        quota: Quota,
        default_credits_limit: int = 100,
        clock: Clock = system_clock,
    ) -> None:
        check_credits_limit(default_credits_limit)
        self._storage = storage
        self.hasher = hasher
        self.sessions = sessions
        self.throttle = throttle
        self.quota = quota
        self.default_credits_limit = default_credits_limit
        self._clock = clock

    def sign_up(self, username: str, email: str, password: str) -> User:
        """Create an account. Surrounding spaces of username and email are dropped.

        Raises:
            SignUpRejected: with a message per broken rule, including a taken username.
        """
        username, email = username.strip(), email.strip()
        validation = validate_sign_up(username, email, password)
        if not validation.is_valid:
            raise SignUpRejected(validation)
        try:
            user = self._storage.create_user(
                username=username,
                email=email,
                password_hash=self.hasher.hash_password(password),
                credits_limit=self.default_credits_limit,
                created_at=self._clock(),
            )
        except UsernameTaken:
            taken = {USERNAME: ("That username is already taken.",)}
            raise SignUpRejected(ValidationResult(types.MappingProxyType(taken))) from None
        logger.info("signed up %r (user %d)", user.username, user.id)
        return user

    def sign_in(self, username: str, password: str, address: str) -> SignedIn:
        """Check the password and start a new session (a new token every time).

        `address` is the client's IP address, for the per-address lockout.

        Raises:
            TooManyAttempts: before checking anything, when locked out.
            WrongCredentials: unknown user or wrong password.
        """
        username = username.strip()
        retry_after_s = self.throttle.retry_after_s(username, address)
        if retry_after_s:
            logger.warning(
                "sign-in for %.64r from %.64s refused for %d s", username, address, retry_after_s
            )
            raise TooManyAttempts(retry_after_s)
        user = self._storage.find_user(username)
        if user is None:
            is_correct = self.hasher.verify_dummy(password)  # every attempt costs a hash
        else:
            is_correct = self.hasher.verify_password(password, user.password_hash)
        if user is None or not is_correct:
            self.throttle.record_failure(username, address)
            logger.info("failed sign-in for %.64r from %.64s", username, address)
            raise WrongCredentials(UNKNOWN_USER if user is None else WRONG_PASSWORD)
        self.throttle.record_success(username)
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
        session = self.sessions.validate(token)
        if session is None:
            return None
        user = self._storage.get_user(session.user_id)
        return None if user is None else CurrentUser(user=user, session=session)


def make_accounts(
    storage: Storage,
    settings: AccountSettings | None = None,
    *,
    clock: Clock = system_clock,
) -> Accounts:
    """Wire `Accounts` and its parts from one `AccountSettings`."""
    settings = settings if settings is not None else AccountSettings()
    return Accounts(
        storage,
        hasher=PasswordHasher(settings.scrypt),
        sessions=SessionManager(storage, lifetime_s=settings.session_lifetime_s, clock=clock),
        throttle=LoginThrottle(
            storage,
            max_failures=settings.max_failed_sign_ins,
            window_s=settings.failure_window_s,
            clock=clock,
        ),
        quota=Quota(storage),
        default_credits_limit=settings.default_credits_limit,
        clock=clock,
    )
