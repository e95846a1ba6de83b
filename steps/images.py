"""What a pinned container image reference is: read by the settings and by lint, with nothing else imported."""

from __future__ import annotations

import re

# An image reference pinned by tag (not latest) or by digest.
PINNED_IMAGE = re.compile(r"^[^\s@]+(:(?!latest$)[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def image_pinned(image: str) -> bool:
    """An image reference pinned by a tag other than latest, or by a digest."""
    return bool(PINNED_IMAGE.match(image if "@" in image else image.rsplit("/", 1)[-1]))
