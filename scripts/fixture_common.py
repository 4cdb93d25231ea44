"""Shared by the tiny random models' fixture scripts (golden-qwen3-fixture.py, golden-phi3-fixture.py,
golden-gemma3-fixture.py): the folder they write into, their seeded float16 weight draws, and the writing of a model
folder and of its golden logits."""
import base64
import json
import os

import numpy as np
from safetensors.numpy import save_file

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


def write_model(model_dir, config, weights):
    """A Hugging Face folder as transformers saves one: config.json and model.safetensors."""
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    save_file(weights, os.path.join(model_dir, 'model.safetensors'), metadata={'format': 'pt'})


def logits_b64(rows):
    """Logit rows as little-endian float32, base64 (the golden files' form)."""
    return base64.b64encode(np.asarray(rows).astype('<f4').tobytes()).decode('ascii')


def write_golden(path, fixture):
    with open(path, 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')
