"""The contracts every component implements."""

from vadkit.components.backbone import Backbone, ClipShape
from vadkit.components.base import Batch, Features
from vadkit.components.error import ErrorMeasure
from vadkit.components.normalizer import ScoreNormalizer, supports_fit
from vadkit.components.recipe import Recipe
from vadkit.components.task import SCORE_KEY, ProxyTask

__all__ = [
    "SCORE_KEY",
    "Backbone",
    "Batch",
    "ClipShape",
    "ErrorMeasure",
    "Features",
    "ProxyTask",
    "Recipe",
    "ScoreNormalizer",
    "supports_fit",
]
