"""tensorflow-datasets builders for the corpora the project reads.

Importing this package registers the builders with tfds (``tfds.load("iam_ondb", ...)``);
``import pipeline`` alone does not, so the rest of the project never pays for importing tfds.
"""

from pipeline.datasets import iam_ondb  # noqa: F401  (registers the "iam_ondb" builder)
