"""Voice: speech-to-text for incoming notes, text-to-speech for voice replies."""
