"""Pure functions from signals (audio, pen strokes) to feature arrays."""
