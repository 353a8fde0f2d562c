"""The teaching views beside the preview pane: the six-rank gallery, the curves, and what a rank adds.

The app hosts them through ViewStack (host.py); each view is also usable on its own.
"""

from .base import CLASSIC_RANKS, RankChosen
from .components import ComponentsView
from .curves import CurvesView
from .gallery import GalleryView
from .host import DESCRIPTIONS, VIEWS, ViewStack

__all__ = ["CLASSIC_RANKS", "ComponentsView", "CurvesView", "DESCRIPTIONS", "GalleryView", "RankChosen", "VIEWS",
           "ViewStack"]
