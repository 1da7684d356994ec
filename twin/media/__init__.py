"""Incoming media: one-line descriptions, and images prepared for a vision model (ffmpeg).

Imports only twin's foundation, so the Telegram boundary (twin.session) and the engine can use it;
what it needs from Telegram (a download) comes in as a callable.
"""
