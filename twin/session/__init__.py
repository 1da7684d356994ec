"""Telegram: the seam, its Telethon adapter, the login flow and a local sandbox."""
