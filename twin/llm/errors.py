"""Provider failures as one-line ProviderErrors that name the provider and never carry a secret."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from twin.errors import ProviderError

_LABELS = {
    400: "bad request",
    401: "unauthorized (check the API key)",
    403: "forbidden (check the API key and its permissions)",
    404: "not found (check the model name and base_url)",
    408: "request timeout",
    413: "request too large",
    429: "rate limited",
    500: "server error",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timeout",
}
_MAX_CHARS = 300


def retryable_status(status: int) -> bool:
    """True for statuses a later try may cure: 408, 429 and every 5xx."""
    return status in (408, 429) or status >= 500


def one_line(text: str, secrets: Iterable[str] = ()) -> str:
    """Collapse whitespace, blank out secrets, and cut to a log-friendly length."""
    for secret in secrets:
        # An empty or tiny "secret" would match everywhere and shred the message.
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def http_error(
    provider: str, status: int, detail: str = "", *, secrets: Iterable[str] = (), hint: str = ""
) -> ProviderError:
    """An HTTP error status as ProviderError, retryable for 408/429/5xx."""
    label = _LABELS.get(status, "server error" if status >= 500 else "error")
    if hint and status == 404:
        label = f"not found ({hint})"
    message = f"{provider}: HTTP {status} {label}"
    if detail:
        message += f": {detail}"
    return ProviderError(one_line(message, secrets), retryable=retryable_status(status), status=status)


def transport_error(
    provider: str, exc: BaseException, *, secrets: Iterable[str] = ()
) -> ProviderError | None:
    """A timeout or dropped/refused connection as a retryable ProviderError; None for anything else."""
    what = _transport_kind(exc)
    if what is None:
        return None
    return ProviderError(one_line(f"{provider}: {what} ({type(exc).__name__})", secrets), retryable=True)


def unexpected_error(provider: str, exc: BaseException, *, secrets: Iterable[str] = ()) -> ProviderError:
    """Anything else the SDK raised, as a non-retryable ProviderError."""
    return ProviderError(one_line(f"{provider}: unexpected {type(exc).__name__}: {exc}", secrets))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_kind(exc: BaseException) -> str | None:
    # The SDKs wrap (openai) or re-raise (google-genai) errors of their HTTP library: httpx2 by
    # default, httpx or aiohttp when configured. Those all chain down to the OS error or
    # TimeoutError that caused them, so the chain is checked as well as httpx2's own classes
    # (RemoteProtocolError, "server disconnected", has no OS error under it).
    import httpx2

    kinds: list[str] = []
    for error in _chain(exc):
        if isinstance(error, TimeoutError | httpx2.TimeoutException):
            kinds.append("timed out")
        elif isinstance(error, ConnectionRefusedError):
            kinds.append("connection refused")
        elif isinstance(error, ConnectionResetError):
            kinds.append("connection reset")
        elif isinstance(error, OSError | httpx2.NetworkError | httpx2.RemoteProtocolError):
            kinds.append("connection failed")
    for kind in ("timed out", "connection refused", "connection reset", "connection failed"):
        if kind in kinds:
            return kind
    return None
