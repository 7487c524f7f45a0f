"""The token meter: one measurement standard for every provider and modality.

In: provider usage objects (``normalize``), text (``tokenizers``, ``chat``), media facts
(``media``, ``probe``) and request bodies (``estimate``). Out: the canonical :class:`Usage`.
"""

from tokenomy.meter.errors import MeterError, UnknownModelError, UsageError
from tokenomy.meter.usage import (
    MODALITIES,
    TOKEN_CLASSES,
    Modality,
    ModalityCounts,
    TokenClass,
    Usage,
)

__all__ = [
    "MODALITIES",
    "TOKEN_CLASSES",
    "MeterError",
    "Modality",
    "ModalityCounts",
    "TokenClass",
    "UnknownModelError",
    "Usage",
    "UsageError",
]
