"""Logging for the daemon: one format, and every known secret redacted before it is written."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from twin.config import Secret, Settings


class Redactor(logging.Filter):
    """Replaces secret values (keys, api_hash) with *** in every record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = self.redact(message)
        record.args = None
        return True


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold."""
    values = [settings.gemini_api_key, settings.openai_api_key, settings.elevenlabs_api_key,
              settings.telegram.api_hash, settings.llm.api_key, settings.stt.api_key, settings.tts.api_key]
    return [v.reveal() for v in values if isinstance(v, Secret) and v]


def setup_logging(settings: Settings, *, file: Path | None = None, verbose: bool = False) -> Redactor:
    """Log to stderr (or a rotating file), redacting secrets; returns the redactor."""
    redactor = Redactor(secrets_of(settings))
    handler: logging.Handler
    if file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            file, maxBytes=settings.service.log_max_bytes, backupCount=settings.service.log_backups, encoding="utf-8"
        )
    handler.addFilter(redactor)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("telethon", "httpx", "httpx2", "google_genai", "openai", "elevenlabs", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
