"""Keras 3 model code: layers, model builders, CTC loss and decoders."""
