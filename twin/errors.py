"""One small hierarchy of errors, each with a message a person can act on."""


class TwinError(Exception):
    """Base of every error twin raises on purpose; str() is one line for the user."""


class ConfigError(TwinError):
    """Settings are missing, unknown or of the wrong type."""


class AuthError(TwinError):
    """Logging in failed or the session is missing, expired or revoked."""


class TelegramError(TwinError):
    """Telegram refused a request (flood limits, privacy, network)."""


class FloodWait(TelegramError):
    """Telegram asked us to wait before the next request."""

    def __init__(self, seconds: int, what: str = "request") -> None:
        self.seconds = seconds
        minutes = max(1, round(seconds / 60))
        super().__init__(f"Telegram asks to wait before the next {what}: try again in {minutes} min")


class ProviderError(TwinError):
    """A model or speech provider failed; retryable when a second try may work."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class AudioError(TwinError):
    """A voice note could not be read, converted or produced."""


class StoreError(TwinError):
    """The database could not be opened or migrated."""


class PhoneInvalid(AuthError):
    """Telegram does not accept the phone number."""


class CodeInvalid(AuthError):
    """The login code was wrong."""


class CodeExpired(AuthError):
    """The login code expired before it was entered."""


class PasswordInvalid(AuthError):
    """The two-step verification password was wrong."""


class PeerFlood(TelegramError):
    """Telegram limited the account (PEER_FLOOD): stop sending and tell the owner."""


class Disconnected(TelegramError):
    """The connection to Telegram was lost; reconnecting may fix it."""
