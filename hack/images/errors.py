"""The one error image building raises; its message says what failed and where the full output is."""

from __future__ import annotations


class ImageBuildError(RuntimeError):
    pass
