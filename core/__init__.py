"""svdlens core: truncated-SVD image compression, with no UI and no printing."""

from .errors import Cancelled, ContainerError, ImageError, OutputError, RankError, SvdlensError, TargetError
from .imageio import SourceImage, load_image, read_image, sample_image_path
from .svd import Decomposition, decompose

__all__ = [
    "Cancelled", "ContainerError", "Decomposition", "ImageError", "OutputError", "RankError", "SourceImage",
    "SvdlensError", "TargetError", "decompose", "load_image", "read_image", "sample_image_path",
]
