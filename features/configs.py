"""What every feature configuration shares: building one from a plain dict (a recipe's
``[features]`` table, a bundle's ``features.json``) that may only hold the class's fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

C = TypeVar("C")


def config_from_dict(cls: type[C], d: Mapping[str, Any]) -> C:
    """``cls(**d)`` for the frozen dataclass ``cls``; missing keys take the defaults.

    Raises ValueError naming the keys that are no field of ``cls``, and the ones that are.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}; known: {sorted(known)}")
    return cls(**d)
