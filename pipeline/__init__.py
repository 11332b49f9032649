"""Corpora, manifests, training, model bundles, transcription, scoring and the CLI."""

__version__ = "0.1.0"
