"""Shared by the tiny random models' fixture scripts (golden-qwen3-fixture.py, golden-phi3-fixture.py): the folder
they write into, and their seeded float16 weight draws."""
import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


class Draws:
    """Float16 weights from numpy's PCG64 with a fixed seed, in the order they are asked for: the same numpy draws
    the same values."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, std):
        return (self.rng.standard_normal(shape) * std).astype(np.float16)

    def around_one(self, n):
        """1 + N(0, 0.2²): norm weights that are not ones, so that a loader ignoring them is seen."""
        return (1 + self.rng.standard_normal(n) * 0.2).astype(np.float16)
