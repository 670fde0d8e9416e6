"""Errors of the core: what a model raises when its input breaks its contract.

The pipeline's stages turn any of them into a failed stage that names the model and the
reason (pipeline/stages/base.py); code using ``models/`` alone catches them directly.
"""

from __future__ import annotations


class ModelInputError(ValueError):
    """A frame given to a model lacks a column or a property the model needs."""
