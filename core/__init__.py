"""svdlens core: truncated-SVD image compression, with no UI and no printing.

Importing core loads the decoder and the errors only: `Decomposition` and `decompose`
(core.svd, which imports torch when it first computes) are loaded on first use, so a
UI can paint before the SVD machinery is imported.
"""

from .errors import Cancelled, ContainerError, ImageError, OutputError, RankError, SvdlensError, TargetError
from .imageio import SourceImage, load_image, read_image, sample_image_path

__all__ = [
    "Cancelled", "ContainerError", "Decomposition", "ImageError", "OutputError", "RankError", "SourceImage",
    "SvdlensError", "TargetError", "decompose", "load_image", "read_image", "sample_image_path",
]

_LAZY = {"Decomposition", "decompose"}  # from core.svd


def __getattr__(name: str):
    if name in _LAZY:
        from . import svd

        return getattr(svd, name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
