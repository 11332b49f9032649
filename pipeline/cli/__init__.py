"""The ``lstmrec`` command line (:func:`lstmrec.cli.main.main`)."""

import os

# One BLAS thread unless the user sets another count. Set here, where every command starts (the
# console script and ``python -m lstmrec`` import this package before NumPy), not as a side
# effect of ``import lstmrec`` in a user's program. NumPy's BLAS serves the NumPy inference
# engine, whose recurrence is one small matrix product per time step: there a second thread
# costs more in wake-ups than it adds (lstmrec bench: 1 thread 62x real time against 23x on 2
# threads for the demo model, 48x against 5x on a batch of 16 files, on the shared 2-core
# machine). OpenBLAS reads this when NumPy is first imported; the Keras backends (TensorFlow,
# XLA, PyTorch) have thread pools of their own and ignore it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
