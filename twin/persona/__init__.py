"""The owner's persona: profile, prompt, style learning, and the model adapters."""
