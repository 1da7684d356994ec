"""twin: an AI twin for your own Telegram account."""

__version__ = "0.1.0"
