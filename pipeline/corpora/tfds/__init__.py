"""tensorflow-datasets builders for the corpora lstmrec reads.

Importing this package registers the builders with ``tfds`` (``tfds.load("timit", ...)``,
``tfds.load("iam_ondb", ...)``); it is kept out of ``import lstmrec`` so that transcription
never pays for importing tensorflow-datasets.
"""

from lstmrec.corpora.tfds import iam_ondb, timit  # noqa: F401  (registers the builders)
