"""Counter-based random draws from a patient's seed: the same patient gets the same draws in any batch.

SplitMix64 hashing of (seed, stream, draw) instead of a sequential generator,
so a draw depends on the patient alone, never on its position, batch, chunk or
worker.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix_seeds(seeds: np.ndarray, stream: int) -> np.ndarray:
    """SplitMix64 finaliser of ``seeds`` and a stream number: independent 64-bit draws per patient."""
    with np.errstate(over="ignore"):
        z = np.asarray(seeds, dtype=np.uint64) + np.uint64(stream + 1) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashed_uniforms(keys: np.ndarray, draw: int) -> np.ndarray:
    """Uniforms on the open interval (0, 1), one per key, for draw number ``draw``."""
    bits = mix_seeds(keys, draw) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) / 2.0 ** 53


def hashed_normals(keys: np.ndarray, draw: int) -> np.ndarray:
    """Standard normals, one per key, for draw number ``draw`` (finite: the uniforms exclude 0 and 1)."""
    return ndtri(hashed_uniforms(keys, draw))
