"""lstmrec: deep bidirectional LSTM-CTC recognizers for speech (phones) and on-line handwriting.

The Python API (see :mod:`lstmrec.api`)::

    import lstmrec

    model = lstmrec.load("runs/demo/model")
    print(model.transcribe("speech.wav").text)

``import lstmrec`` itself imports nothing else: ``load`` and ``Model`` are fetched from
:mod:`lstmrec.api` on first use, so the command line and a program that only needs a
submodule start without them.
"""

__version__ = "0.2.0"
__all__ = ["Model", "load", "__version__"]


def __getattr__(name: str) -> object:
    if name in ("Model", "load"):
        from lstmrec import api  # NumPy and the inference modules, on first use only

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
