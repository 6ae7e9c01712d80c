"""Seeds derived from other seeds: every stream of randomness in one place, each with the reason it exists.

A run has one ``seed`` (training and its evaluation sample), a world a ``world_seed`` (what is drawn) and
a ``physics_seed`` (how concepts look and how the renderer draws them). Everything random descends from
one of them through this module, on a stream of its own, so that changing one knob never reshuffles the
draws of another, and two streams never share a seed by accident.

The values are the ones every stored run was made with: changing a number here changes results.

* :func:`rng` — a numpy generator of ``[base seed, stream number, *more]`` (numpy's ``SeedSequence``
  mixes the list, so ``[s, 1]`` and ``[s, 2]`` are unrelated streams); the numbers are :data:`STREAMS`.
* :func:`step_seed` — the per-step draw of an objective (SL's vocabulary, DINO's crops and prototypes).
* :func:`epoch_seed` — the shuffled order of an epoch (and of each restart of a stream within it).
* :func:`shuffle_buffer_seed` — a shard stream's shuffle buffer, per DataLoader worker.
* :func:`sample_seed` — a real image's random augmentation, per sample.
* :func:`decoder_part_seed` — the renderer's three fixed bases, from the world's decoder seed.
* :func:`substream` — the ``k``-th of several independent draws from one seed (two class sets' bootstraps).
* :func:`training_seeds` — the run seeds of a preset that trains several (``full``).
"""

from __future__ import annotations

import numpy as np

# stream numbers of :func:`rng`: base seed in brackets
STREAMS = {
    "subset": 1,  # [world_seed] which ImageNet concepts the world draws
    "profile": 2,  # [world_seed] which class gets which rank of the long-tailed profile
    "latent": 3,  # [physics_seed] the concepts' visual latents: worlds of one physics look alike
    "decoder": 4,  # [physics_seed] the renderer's seed (its bases: :func:`decoder_part_seed`)
    "train": 5,  # [world_seed] the training pairs: labels' order, latents, nuisance
    "captions": 6,  # [world_seed] the training captions
    "test": 7,  # [world_seed, 7, domain's number] a test domain's images
    "source": 8,  # [world_seed] which source of a mixture each training image comes from
    "shift": 9,  # [world_seed] which web images are rendered in a shifted style, and which style
    # the test domains' numbers (after "test"): adding a domain never redraws another domain's images
    "photo": 10,
    "v2": 11,
    "sketch": 12,
    "rendition": 13,
    "objectnet": 14,
    "open": 15,  # [world_seed] the open-world concepts (added after the domains: the next free number)
    "prototypes": 99,  # [run seed] the random projection of SL's oracle prototypes (MiniLM vectors)
    "feature_sample": 31337,  # [0] which test images' features a run stores: the same for every run on a set
}
# 1000th prime: seed s's per-step seeds (s * 7919 + step) stay distinct from seed s + 1's for runs of fewer
# than 7919 steps; every rank of a distributed run computes the same seed, hence draws the same subset
STEP_STRIDE = 7_919
EPOCH_STRIDE = (
    1_000_003  # a prime above any epoch count: (seed, epoch) -> seed * stride + epoch is one-to-one
)
RESTART_TAG = 0x5EED  # marks a restarted pass's SeedSequence entropy apart from any other list of 3 ints
WORKER_STRIDE = 1009  # a prime above any DataLoader worker count: one shuffle-buffer seed per worker
DECODER_PARTS = {"colour": 0, "texture": 1, "silhouette": 2}  # the renderer's bases: offsets of its seed


def rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    """A numpy generator for ``stream`` of :data:`STREAMS` from base ``seed`` (``more``: finer sub-streams,
    such as a concept's index or a test domain's number)."""
    return np.random.default_rng([seed, STREAMS[stream], *more])


def step_seed(seed: int, step: int) -> int:
    """The seed of an objective's random draws at training ``step`` of a run with ``seed``: a pure function of
    the two, so a resumed run draws exactly what the uninterrupted one drew, on every rank alike."""
    return seed * STEP_STRIDE + step


def epoch_seed(seed: int, epoch: int, restart: int = 0) -> int:
    """The seed of ``epoch``'s order (and of a stream's ``restart``-th pass within it: distinct for every
    (seed, epoch, restart), unlike the ``epoch * 1000 + passes`` it replaced, which collided across epochs)."""
    if restart == 0:
        return seed * EPOCH_STRIDE + epoch
    return int(
        np.random.SeedSequence([seed, epoch, restart, RESTART_TAG]).generate_state(1, np.uint64)[0] >> 1
    )


def shuffle_buffer_seed(seed: int, epoch: int, worker: int) -> int:
    """The seed of a shard stream's shuffle buffer in DataLoader worker ``worker`` (0 without workers): each
    worker reads other shards, so each shuffles with a seed of its own."""
    return epoch_seed(seed, epoch) * WORKER_STRIDE + worker


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index``'s random augmentation in ``epoch``: the same pixels whatever the worker
    count, the order, or a resume in the middle of the epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0])


def decoder_part_seed(decoder_seed: int, part: str) -> int:
    """The seed of one of the renderer's fixed bases (:data:`DECODER_PARTS`) from the world's decoder seed."""
    return decoder_seed + DECODER_PARTS[part]


def substream(seed: int, k: int) -> list[int]:
    """Seed material for the ``k``-th of several draws that must be independent of each other (for numpy's
    ``default_rng``): two different class sets resampled in one interval are drawn apart."""
    return [seed, k]


def training_seeds(first: int, n: int) -> tuple[int, ...]:
    """The ``n`` run seeds of a preset that trains several: consecutive from ``first`` (each a whole run's
    ``seed``, from which its own streams derive)."""
    return tuple(first + k for k in range(n))
