"""The ``features`` rendering of the concept world: a scene's latent through a fixed random "retina".

Pixels cost chapters 2–4 most of their time (a 16 px image through a CNN is about 15 MFLOP per
sample), yet the mechanisms those chapters study live in the supervision: captions, vocabulary,
text heads, prototypes and frequency. With ``render="features"`` an image is a vector of
``feature_dim`` uint8 intensities, the output of a fixed, seeded, random two-layer network (the
retina) applied to the image's *scene*:

* the object's **shape** code (``tanh`` of a fixed projection of its visual latent), turned by
  its pose: each pair of shape coordinates rotates by the pose angle times a fixed harmonic (as
  rotating an image turns its angular harmonics), scaled by its size, and faded as it moves
  off-centre;
* its **colour** code (four patches × RGB from another projection), times a per-sample colour gain;
* its **background**: a random vector, busier (and louder) in ObjectNet-like scenes.

Shape and colour are weighted by ``shape_weight`` exactly as the pixel renderer mixes its
luminance texture and colour pattern. Nuisance and shifts enter the scene *before* the retina,
as they enter the pixels: a sketch keeps the shape's strokes (absolute values), loses colour and
background; a rendition mixes and posterises the palette and adds a stripe texture; an
ObjectNet-like scene has a wide pose and a cluttered background; v2 has 15% more nuisance.

The scene also gives each image its *look* (the object's mean colour and how busy the
background is), from which captions take their image words, as the pixel world reads them off
its pixels (:func:`studylib.world.image_words`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

SHAPE, PATCHES, BACKGROUND, HIDDEN = 24, 4, 8, 256
SCENE = SHAPE + 3 * PATCHES + BACKGROUND


@functools.lru_cache(maxsize=8)
def _maps(latent_dim: int, feature_dim: int, seed: int) -> dict:
    """The retina's fixed parts, drawn once from ``seed``: latent projections, layer weights, fixed textures."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    return {
        "shape": randn(latent_dim, SHAPE) / math.sqrt(latent_dim),
        "colour": randn(latent_dim, 3 * PATCHES) / math.sqrt(latent_dim),
        "harmonic": (torch.arange(SHAPE // 2) % 3 + 1).float(),
        "w1": randn(SCENE, HIDDEN) * (2.0 / math.sqrt(SCENE)),
        "b1": 0.5 * randn(HIDDEN),
        "w2": randn(HIDDEN, feature_dim) * (1.5 / math.sqrt(HIDDEN)),
        "paper": 0.8 * randn(BACKGROUND),  # a sketch's white page
        "stripes": 0.5 * randn(BACKGROUND),  # a rendition's print texture
    }


def _pose(n: int, domain: str, nuisance: float, gen: torch.Generator):
    """Angle, shift (n, 2) and scale: the pixel renderer's pose distributions."""
    if domain == "objectnet":
        angle = torch.empty(n).uniform_(-math.pi / 3, math.pi / 3, generator=gen)
        shift = torch.empty(n, 2).uniform_(-0.25, 0.25, generator=gen)
        scale = torch.empty(n).uniform_(0.8, 1.2, generator=gen)
    else:
        angle = 0.25 * nuisance * torch.randn(n, generator=gen)
        shift = 0.12 * nuisance * torch.randn(n, 2, generator=gen)
        scale = 1 + 0.08 * nuisance * torch.randn(n, generator=gen)
    return angle, shift, scale


def _scene(z, maps, domain, nuisance, shape_weight, gen, part_keep=1.0):
    """(scene (n, SCENE), look: object colour (n, 3) in [0, 1] and background busyness (n,)). ``part_keep`` < 1
    hides each shape and colour coordinate with probability 1 − part_keep (a view of part of the object)."""
    n = len(z)
    if domain == "v2":
        nuisance *= 1.15
    shape = torch.tanh(1.5 * z @ maps["shape"])
    colour = torch.tanh(1.5 * z @ maps["colour"]).view(n, PATCHES, 3)
    if part_keep < 1:
        shape = shape * (torch.rand(n, SHAPE, generator=gen) < part_keep)
        colour = colour * (torch.rand(n, PATCHES, 1, generator=gen) < part_keep)
    angle, shift, scale = _pose(n, domain, nuisance, gen)
    turn = angle[:, None] * maps["harmonic"][None, :]  # (n, SHAPE / 2)
    a, b = shape[:, 0::2], shape[:, 1::2]
    shape = torch.cat(
        [a * torch.cos(turn) - b * torch.sin(turn), a * torch.sin(turn) + b * torch.cos(turn)], 1
    )
    seen = (scale / (1 + (shift**2).sum(1) / 0.05))[:, None]  # off-centre objects fade into the frame
    shape = shape * seen
    if domain == "sketch":
        shape = shape.abs()  # strokes: edges without their sign
        colour = torch.zeros_like(colour)
        background = maps["paper"].expand(n, BACKGROUND) + 0.05 * torch.randn(n, BACKGROUND, generator=gen)
    else:
        gain = 1 + 0.15 * nuisance * torch.randn(n, 1, 3, generator=gen)
        colour = colour * gain * seen[:, :, None]
        loud = 1.6 if domain == "objectnet" else 1.0
        background = loud * 0.5 * nuisance * torch.randn(n, BACKGROUND, generator=gen)
        if domain == "objectnet":  # clutter: a second object-like pattern behind the object
            background = background + 0.5 * torch.tanh(torch.randn(n, BACKGROUND, generator=gen))
        if domain == "rendition":
            colour = 0.6 * colour + 0.4 * colour[:, :, [2, 0, 1]]  # shifted palette
            colour, shape = torch.round(colour * 3) / 3, torch.round(shape * 3) / 3  # posterised
            background = background + maps["stripes"]
    scene = torch.cat([shape_weight * shape, (1 - shape_weight) * colour.flatten(1), background], 1)
    centre = ((colour.mean(1) + 1) / 2).clamp(0, 1)
    if domain == "sketch":
        centre = torch.full((n, 3), 0.5)
    return scene, (centre, background.std(1))


def render_features(z, feature_dim, domain, seed, rng, nuisance=1.0, shape_weight=0.7, batch=16384):
    """Latents ``z`` (n, d) -> (uint8 features (n, feature_dim), look: object colour (n, 3), busyness (n,)).

    ``seed``: the retina's (the world's physics, so two worlds of one physics see alike); ``rng``: the
    per-sample nuisance draws."""
    maps = _maps(z.shape[1], feature_dim, seed)
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    out, centres, busy = [], [], []
    for lo in range(0, len(z), batch):
        scene, (centre, bg) = _scene(
            torch.from_numpy(z[lo : lo + batch]), maps, domain, nuisance, shape_weight, gen
        )
        out.append(_retina(scene, maps, nuisance, gen))
        centres.append(centre)
        busy.append(bg)
    if not out:
        return torch.zeros(0, feature_dim, dtype=torch.uint8), (torch.zeros(0, 3), torch.zeros(0))
    return torch.cat(out), (torch.cat(centres), torch.cat(busy))


def _retina(scene, maps, nuisance, gen) -> torch.Tensor:
    """Scenes (n, SCENE) through the fixed two-layer retina, plus sensor noise: uint8 (n, feature_dim)."""
    x = torch.tanh(F.gelu(scene @ maps["w1"] + maps["b1"]) @ maps["w2"])
    x = (x + 0.04 * nuisance * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    return ((x + 1) * 127.5).round().to(torch.uint8)


def render_views(scenes, rows, gen: torch.Generator, part_keep: float = 1.0) -> torch.Tensor:
    """uint8 (len(rows), feature_dim): training samples ``rows`` of :class:`studylib.world.Scenes` seen again,
    each in its own domain and source nuisance with fresh pose, colour gain, background and sensor noise (and,
    with ``part_keep`` < 1, part of the object hidden): DINO's views of the features world. Draws from ``gen``."""
    from studylib.config import DOMAINS

    rows = np.asarray(rows)
    z = torch.from_numpy(scenes.latents[rows])
    maps = _maps(z.shape[1], scenes.feature_dim, scenes.seed)
    out = torch.empty(len(rows), scenes.feature_dim, dtype=torch.uint8)
    groups = scenes.domains[rows].astype(np.int64) * 1000 + np.round(scenes.nuisance[rows] * 100).astype(
        np.int64
    )
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        nuisance = float(scenes.nuisance[rows[idx[0]]])
        domain = DOMAINS[int(scenes.domains[rows[idx[0]]])]
        scene, _ = _scene(z[idx], maps, domain, nuisance, scenes.shape_weight, gen, part_keep)
        out[torch.from_numpy(idx)] = _retina(scene, maps, nuisance, gen)
    return out


def is_features(images: torch.Tensor) -> bool:
    """A world's images are feature vectors (n, d) rather than pixels (n, 3, h, w)."""
    return images.dim() == 2


def feature_scene_sizes() -> dict:
    """The scene's parts and the retina's hidden width, for the data card."""
    return {"shape": SHAPE, "colour": 3 * PATCHES, "background": BACKGROUND, "hidden": HIDDEN}
