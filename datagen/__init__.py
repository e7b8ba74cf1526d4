"""Synthetic landing data for Audience Warehouse: personas, behaviour, dirt and the hidden truth."""

from datagen.config import GENERATOR_VERSION, SCALES, DirtConfig, GeneratorConfig
from datagen.generator import GenerationReport, generate

__all__ = ["GENERATOR_VERSION", "SCALES", "DirtConfig", "GenerationReport", "GeneratorConfig", "generate"]
__version__ = GENERATOR_VERSION
