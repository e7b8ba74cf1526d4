"""Random streams, bijective id hashing and exact-count selection.

Every stream is keyed by the seed plus names (component, block, dirt kind), never by the order in
which streams are created, so skipping a source or changing a rate leaves other streams untouched.
"""

from __future__ import annotations

import zlib

import numpy as np

_MASK64 = (1 << 64) - 1


def _key(part: str | int) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def stream(seed: int, *parts: str | int) -> np.random.Generator:
    """A PCG64 generator for one named stream of one seed."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=tuple(_key(p) for p in parts))
    return np.random.Generator(np.random.PCG64(sequence))


def mix64(values: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 finaliser of values XOR salt: a bijection on uint64, so distinct inputs stay distinct."""
    z = values.astype(np.uint64) ^ np.uint64(salt & _MASK64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stochastic_count(rng: np.random.Generator, n: int, rate: float) -> int:
    """round(n * rate) with random rounding: unbiased, and never more than one away from n * rate."""
    if rate <= 0 or n <= 0:
        return 0
    expected = n * rate
    return min(n, int(np.floor(expected + rng.random())))


def choose(
    rng: np.random.Generator, candidates: np.ndarray, rate: float, base: int | None = None
) -> np.ndarray:
    """Sorted indices of about rate * base elements drawn without replacement from `candidates`.

    `candidates` is an index array or a boolean mask; `base` (default: number of candidates) is the
    population the rate refers to, so a rate can be a share of all rows while only some qualify.
    """
    index = np.flatnonzero(candidates) if candidates.dtype == bool else np.asarray(candidates)
    population = len(index) if base is None else base
    k = min(stochastic_count(rng, population, rate), len(index))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(index, size=k, replace=False)).astype(np.int64)


def mask_of(n: int, rows: np.ndarray) -> np.ndarray:
    """A boolean mask of length n, true at `rows` (the inverse of `choose`'s indices)."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def apportion(n: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to n closest to n * shares (largest remainder)."""
    raw = n * np.asarray(shares, dtype=float) / np.sum(shares)
    counts = np.floor(raw).astype(np.int64)
    remainder = n - counts.sum()
    if remainder:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:remainder]] += 1
    return counts


def categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), probabilities.shape[1] - 1)


def categorical_of(rng: np.random.Generator, probabilities: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """One draw from row `owner[i]` of a (n, k) probability matrix for each i, without gathering the
    rows: a single searchsorted over the owners' cumulative probabilities shifted by owner index."""
    n, k = probabilities.shape
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative = np.minimum(cumulative / cumulative[:, -1:], 1.0)
    keys = (np.arange(n)[:, None] + cumulative).reshape(-1)
    owner = np.asarray(owner, dtype=np.int64)
    slot = np.searchsorted(keys, owner + rng.random(len(owner)), side="right")
    return np.minimum(slot - owner * k, k - 1)


def segment_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts per owner: (owner of each expanded element, position of the element within its owner)."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner)) - starts[owner]
