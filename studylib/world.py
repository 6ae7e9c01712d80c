"""The concept world: a seeded, semantically grounded stand-in for web data.

Concepts are real ImageNet classes; their semantics are real MiniLM vectors;
the images (pixels, or retina feature vectors) are synthetic. Each concept's *visual latent* is

    v_c = sqrt(semantic_share) * P s_c + sqrt(1 - semantic_share) * r_c

with ``s_c`` the centred MiniLM vector, ``P`` a fixed random projection and
``r_c`` concept-specific noise, so semantically close concepts look alike and
language knowledge can transfer. A concept has ``n_modes`` visual modes around
``v_c``; a sample adds per-sample nuisance (``diversity``), then is rendered by
a fixed smooth random decoder into an object on a background, with pose
(shift, rotation, scale), colour and background nuisance. Domains change the
rendering (see :func:`render`). Captions are drawn at six descriptiveness
levels with realistic noise, and the true concepts each caption names are
kept, so frequency estimators can be scored.

Usage::

    from studylib.config import world_config
    from studylib.spec import resolve
    from studylib.world import make_world
    world = make_world(world_config(resolve("smoke")))
    world.train.images.shape     # (N, 3, 16, 16) uint8
    world.class_counts           # long-tailed training counts per class
    world.test["photo"].labels   # balanced test split

Same config (incl. ``world_seed``) gives the same world, byte for byte.

Long because the concept world's generator: latents, rendering, captions, domains, sources and
profiles share private helpers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studylib import seeds
from studylib.captions.profiles import read_profile
from studylib.concepts import Concept, load_concepts, select_subset, semantic_vectors
from studylib.config import CAPTION_LEVELS, DOMAINS, SOURCES, WorldConfig, parse_sources
from studylib.retina import render_features

# The shifted renderings a web-like source holds a few of, and the words its captions then use.
SHIFT_STYLES = ("sketch", "rendition", "objectnet")
STYLE_WORDS = {
    "sketch": ("sketch", "drawing", "pencil drawing"),
    "rendition": ("painting", "illustration", "cartoon"),
    "objectnet": ("odd angle", "upside down", "cluttered shot"),
}


@dataclass
class Split:
    """Images (uint8, N x 3 x H x W), labels (int64) and, for train, captions."""

    images: torch.Tensor
    labels: np.ndarray
    captions: list[str] | None = None
    caption_level: np.ndarray | None = None  # index into CAPTION_LEVELS
    caption_mentions: list[tuple[int, ...]] | None = None  # concepts each caption names
    source: np.ndarray | None = None  # index into SOURCES per training sample
    domain: np.ndarray | None = None  # index into config.DOMAINS per training sample (0 = photo)

    def __len__(self):
        return len(self.labels)


@dataclass
class World:
    config: WorldConfig
    concepts: tuple[Concept, ...]  # the evaluated classes, labels 0..n-1
    class_counts: np.ndarray  # training pairs per evaluated class
    train: Split  # labels >= n name open-world concepts
    test: dict[str, Split]
    open_concepts: tuple[Concept, ...] = ()  # open-world concepts (training only), labels n, n+1, ...

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.concepts]


def _rng(cfg: WorldConfig, stream: str) -> np.random.Generator:
    """The world's generator for ``stream`` (:data:`studylib.seeds.STREAMS`: one per purpose, so changing one
    knob never reshuffles another)."""
    return seeds.rng(cfg.world_seed, stream)


# ---------------------------------------------------------------- frequencies
def class_profile(cfg: WorldConfig, concepts) -> np.ndarray:
    """Relative frequency per class (sums to 1) under ``cfg.profile``."""
    n = len(concepts)
    rng = _rng(cfg, "profile")
    if cfg.profile == "balanced":
        w = np.ones(n)
    elif cfg.profile == "zipf":
        w = np.arange(1, n + 1, dtype=float) ** -cfg.zipf_alpha
        w = w[rng.permutation(n)]  # which class gets which rank
    elif cfg.profile == "lognormal":
        w = np.exp(cfg.lognormal_sigma * rng.standard_normal(n))
    else:
        w = counts_from_file(cfg.profile, concepts).astype(float)
        if w.sum() <= 0:
            raise ValueError(f"frequency file {cfg.profile}: all counts of the chosen classes are 0")
    return w / w.sum()


# The names the paper's released ImageNet count files (``class_frequency_*_imagenet_ori.txt``) give the seven
# classes whose name is none of the class's WordNet lemmas: accepted as that class's names.
PAPER_NAMES = {
    97: "duck",
    421: "baluster / handrail",
    505: "coffeemaker",
    670: "vespa",
    824: "scarf",
    914: "sailboat",
    998: "corn cob",
}


def _norm(name: str) -> str:
    """A class name as compared: lower case, underscores as spaces, runs of spaces folded."""
    return " ".join(str(name).lower().replace("_", " ").split())


@functools.lru_cache(maxsize=1)
def _aliases() -> dict:
    """normalised name -> the ImageNet class indices it names. ``freq count``'s display names come first and
    each names one class ("sunglasses" is the first such class, "sunglasses (dark glasses)" the second, as in
    its output); then WordNet synonyms, shared names and :data:`PAPER_NAMES`, which may name several."""
    from studylib.captions.patterns import imagenet_specs

    concepts, specs = load_concepts(), imagenet_specs(negatives=False)
    out: dict = {_norm(spec.name): {c.index} for c, spec in zip(concepts, specs)}
    display = set(out)
    for c in concepts:
        for name in (c.name, *c.synonyms, *c.ambiguous, PAPER_NAMES.get(c.index, "")):
            if name and _norm(name) not in display:
                out.setdefault(_norm(name), set()).add(c.index)
    return out


def _by_position(names: list) -> bool:
    """A 1000-line file is read by line position only when every line names its own position's class (a
    name shared by several classes, such as the paper's two "crane" lines, counts for each of them)."""
    concepts = load_concepts()

    def own(c):
        return {_norm(n) for n in (c.name, *c.synonyms, *c.ambiguous, PAPER_NAMES.get(c.index, "")) if n}

    aliases = _aliases()
    return len(names) == 1000 and all(
        n in own(concepts[i]) or i in aliases.get(n, ()) for i, n in enumerate(names)
    )


def _by_name(path, names: list, counts: list) -> dict:
    """class index -> count, each line's name resolved to exactly one class; an unknown or ambiguous name, or two
    lines naming one class (after case, spacing and synonyms are folded), is an error naming the line."""
    aliases, first, out = _aliases(), {}, {}
    for line, (name, count) in enumerate(zip(names, counts), 1):
        hits = aliases.get(name, set())
        if not hits:
            why = (
                " (a 1000-line file is read by position only when every line names its own position's class)"
                if len(names) == 1000
                else ""
            )
            raise ValueError(f"{path}:{line}: {name!r} is no ImageNet class's name or synonym{why}")
        if len(hits) > 1:
            raise ValueError(
                f"{path}:{line}: {name!r} names {len(hits)} ImageNet classes ({sorted(hits)}); use "
                'a name of one class only, e.g. freq count\'s "missile (projectile)"'
            )
        (idx,) = hits
        if idx in first:
            raise ValueError(
                f"{path}:{line}: {name!r} names the same class as line {first[idx]} "
                f"(class {idx}, {load_concepts()[idx].name!r})"
            )
        first[idx], out[idx] = line, count
    return out


def counts_from_file(path, concepts) -> np.ndarray:
    """Counts of ``concepts`` from a ``classname<TAB>count`` file (or ``freq count``'s own output).

    The file is read (and checked) by :func:`studylib.captions.profiles.read_profile`. A 1000-line file
    whose every line names its own position's ImageNet class (the paper's released files) is read by
    position; any other file by name, with case, spacing and synonyms folded, and every name must resolve
    to exactly one class, once. A file that fits neither is an error naming its first bad line: a reversed
    or shuffled file is read by name, a typo is never dropped, and a duplicate never silently wins.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"profile {str(path)!r} is neither balanced/zipf/lognormal nor a file")
    profile = read_profile(path)
    names = [_norm(n) for n in profile.index]
    counts = profile.to_numpy(dtype=float).tolist()
    if _by_position(names):
        return np.array([counts[c.index] for c in concepts])
    lookup = _by_name(path, names, counts)
    missing = [c.name for c in concepts if c.index not in lookup]
    if missing:
        raise ValueError(f"{path}: no count for {len(missing)} classes, e.g. {missing[:5]}")
    return np.array([lookup[c.index] for c in concepts])


def allocate_counts(p: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integer counts proportional to ``p`` summing to ``total`` (largest remainder)."""
    spare = total - minimum * len(p)
    if spare < 0:
        raise ValueError(f"n_train={total} is smaller than min_per_class x n_classes = {minimum * len(p)}")
    raw = p * spare
    base = np.floor(raw).astype(np.int64)
    left = spare - base.sum()
    base[np.argsort(-(raw - base), kind="stable")[:left]] += 1
    return base + minimum


# ---------------------------------------------------------------- latents
def _class_latents(cfg: WorldConfig, concepts) -> tuple[np.ndarray, np.ndarray]:
    """Concept centres (n, d) and mode centres (n, n_modes, d).

    They depend on ``physics_seed`` and on each concept's ImageNet index, not on
    ``world_seed`` or on which other concepts were drawn: a concept looks the
    same in every world of the same physics (a pretraining world and the study's
    world, say), so what one model learns transfers to the other.
    """
    rng = seeds.rng(cfg.physics_seed, "latent")
    allsem = semantic_vectors(load_concepts())
    sem = semantic_vectors(concepts) - allsem.mean(0)  # centre: remove the shared direction
    sem /= np.linalg.norm(sem, axis=1, keepdims=True)
    d = cfg.latent_dim
    proj = np.linalg.qr(rng.standard_normal((sem.shape[1], d)))[0] * math.sqrt(sem.shape[1] / d)
    aligned = sem @ proj
    aligned /= np.linalg.norm(aligned, axis=1, keepdims=True)
    # (a distinct middle entry: numpy ignores trailing zeros, so [p, s, 0] would equal the projection's [p, s])
    per = [seeds.rng(cfg.physics_seed, "latent", 1, c.index) for c in concepts]
    own = np.stack([g.standard_normal(d) for g in per]) / math.sqrt(d) if per else np.zeros((0, d))
    centres = math.sqrt(cfg.semantic_share) * aligned + math.sqrt(1 - cfg.semantic_share) * own
    spread = (
        np.stack([g.standard_normal((cfg.n_modes, d)) for g in per]) if per else np.zeros((0, cfg.n_modes, d))
    )
    modes = centres[:, None, :] + cfg.mode_spread * spread / math.sqrt(d)
    return centres.astype(np.float32), modes.astype(np.float32)


def _sample_latents(modes, labels, diversity, rng) -> np.ndarray:
    d = modes.shape[-1]
    which = rng.integers(0, modes.shape[1], size=len(labels))
    z = modes[labels, which] + diversity * rng.standard_normal((len(labels), d)).astype(
        np.float32
    ) / math.sqrt(d)
    return z.astype(np.float32)


# ---------------------------------------------------------------- rendering
def _smooth_fields(n, channels, size, sigma, gen) -> torch.Tensor:
    """n random fields, Gaussian-smoothed, unit variance per field."""
    x = torch.randn(n, channels, size, size, generator=gen)
    r = max(1, int(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="circular"), k, groups=channels)
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="circular"), k.transpose(2, 3), groups=channels)
    return x / x.flatten(1).std(1).view(-1, 1, 1, 1)


@functools.lru_cache(maxsize=8)
def _decoder(latent_dim: int, size: int, seed: int) -> torch.Tensor:
    """Fixed smooth basis images (latent_dim, 3, size, size) of the world's renderer."""
    gen = torch.Generator().manual_seed(seed)
    return _smooth_fields(latent_dim, 3, size, sigma=size / 10, gen=gen)


def render(
    z: np.ndarray,
    size: int,
    domain: str,
    decoder_seed: int,
    rng: np.random.Generator,
    nuisance: float = 1.0,
    batch: int = 4096,
    shape_weight: float = 0.7,
) -> torch.Tensor:
    """Render latents ``z`` (n, d) to uint8 images (n, 3, size, size) in ``domain``.

    The object's appearance mixes a luminance texture shared by all channels
    (weight ``shape_weight``) with a colour pattern, inside a silhouette whose
    outline follows the latent too: class identity lives in shape and texture
    as well as colour, so a colour-free rendering keeps part of it.

    photo: object on a smooth background, mild pose and colour nuisance.
    v2: the photo process, freshly resampled with 15% more nuisance.
    sketch: grey-scale shading and dark edge strokes of the object on white, no colour or background.
    rendition: a shifted palette (channels partly permuted), posterised, with a stripe texture.
    objectnet: unusual pose (rotations up to 60 degrees, off-centre, scaled) and a cluttered background.
    """
    out = []
    for lo in range(0, len(z), batch):
        out.append(_render_batch(z[lo : lo + batch], size, domain, decoder_seed, rng, nuisance, shape_weight))
    return torch.cat(out) if out else torch.zeros(0, 3, size, size, dtype=torch.uint8)


def _silhouette(z: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """(n, 1, size, size) soft masks: a disc whose radius varies with the angle by the latent's harmonics."""
    n, d = z.shape
    proj = torch.randn(d, 4, generator=torch.Generator().manual_seed(seed)) / math.sqrt(d)
    coef = 0.3 * torch.tanh(2.0 * z @ proj)  # (n, 4): cos/sin of 1 and 2 theta
    ax = torch.linspace(-1, 1, size)
    yy, xx = ax.view(-1, 1).expand(size, size), ax.view(1, -1).expand(size, size)
    theta = torch.atan2(yy, xx)
    harmonics = torch.stack([torch.cos(theta), torch.sin(theta), torch.cos(2 * theta), torch.sin(2 * theta)])
    radius2 = 0.55 * (1 + torch.einsum("nk,khw->nhw", coef, harmonics))
    return torch.sigmoid((radius2 - (xx**2 + yy**2)) * 12).unsqueeze(1)


def _render_batch(z, size, domain, decoder_seed, rng, nuisance, shape_weight=0.7):
    n, d = z.shape
    basis = _decoder(d, size, seeds.decoder_part_seed(decoder_seed, "colour"))
    texture = _decoder(d, size, seeds.decoder_part_seed(decoder_seed, "texture"))[
        :, :1
    ]  # one luminance channel
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    zt = torch.from_numpy(z)
    colour = torch.tanh(1.5 * torch.einsum("nd,dchw->nchw", zt, basis))
    lum = torch.tanh(1.5 * torch.einsum("nd,dchw->nchw", zt, texture))
    obj = shape_weight * lum + (1 - shape_weight) * colour
    mask = _silhouette(zt, size, seeds.decoder_part_seed(decoder_seed, "silhouette"))
    obj = torch.cat([obj, mask], 1)
    if domain == "v2":
        nuisance *= 1.15
    if domain == "objectnet":
        angle = torch.empty(n).uniform_(-math.pi / 3, math.pi / 3, generator=gen)
        shift = torch.empty(n, 2).uniform_(-0.25, 0.25, generator=gen)
        scale = torch.empty(n).uniform_(0.8, 1.2, generator=gen)
    else:
        angle = 0.25 * nuisance * torch.randn(n, generator=gen)
        shift = 0.12 * nuisance * torch.randn(n, 2, generator=gen)
        scale = 1 + 0.08 * nuisance * torch.randn(n, generator=gen)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, (n, 4, size, size), align_corners=False)
    obj = F.grid_sample(obj, grid, padding_mode="zeros", align_corners=False)
    colour, m = obj[:, :3], obj[:, 3:]
    if domain == "sketch":
        lum = colour.mean(1, keepdim=True) * m
        gx = lum[..., :, 1:] - lum[..., :, :-1]
        gy = lum[..., 1:, :] - lum[..., :-1, :]
        edges = F.pad(gx.abs(), (0, 1)) + F.pad(gy.abs(), (0, 0, 0, 1))
        edges = edges / (edges.flatten(1).amax(1).view(-1, 1, 1, 1) + 1e-6)
        img = m * lum + (1 - m) * 0.9 - 0.6 * edges  # grey shading plus dark strokes on white
        img = (img.expand(n, 3, size, size) + 0.05 * torch.randn(n, 1, size, size, generator=gen)).clamp(
            -1, 1
        )
    else:
        gain = 1 + 0.15 * nuisance * torch.randn(n, 3, 1, 1, generator=gen)
        colour = colour * gain
        bg_sigma = size / 16 if domain == "objectnet" else size / 5
        bg = 0.5 * nuisance * _smooth_fields(n, 3, size, bg_sigma, gen)
        if domain == "objectnet":
            bg = bg * 1.6
        img = m * colour + (1 - m) * bg.clamp(-1, 1)
        if domain == "rendition":
            perm = torch.tensor([2, 0, 1])
            img = 0.6 * img + 0.4 * img[:, perm]  # shifted palette
            img = torch.round(img * 3) / 3  # posterised, as a drawing or print
            stripes = torch.sin(torch.arange(size) * 2.2).view(1, 1, 1, -1)
            img = img * (0.85 + 0.15 * stripes)  # a texture
        img = (img + 0.04 * nuisance * torch.randn(img.shape, generator=gen)).clamp(-1, 1)
    return ((img + 1) * 127.5).round().to(torch.uint8)


# ---------------------------------------------------------------- captions
# Training caption templates; none equals an evaluation prompt (evaluate.PROMPT_TEMPLATES, tested), so a
# template-trained CLIP is not scored on the very sentences it was trained on.
_TEMPLATES = (
    "a snapshot of a {}.",
    "a picture of the {}.",
    "an image of a {}.",
    "a shot of the {}.",
    "a {} in the wild.",
    "a good photo of the {}.",
    "this is a {}.",
    "a cropped photo of a {}.",
)
_TITLES = (
    "my {} at the park",
    "{} - summer holiday",
    "the {} in our garden",
    "{} (explored)",
    "look at this {}!",
    "a day with the {}",
    "{} on sunday",
    "best {} ever",
)
_FILLER_TAGS = (
    "nikon",
    "canon",
    "2012",
    "travel",
    "holiday",
    "explore",
    "hdr",
    "iphone",
    "nature",
    "family",
    "blackandwhite",
    "summer",
    "winter",
    "city",
    "friends",
    "art",
)
_STOP = {
    "a",
    "an",
    "the",
    "of",
    "and",
    "or",
    "with",
    "in",
    "on",
    "to",
    "its",
    "it",
    "is",
    "are",
    "that",
    "which",
    "from",
    "by",
    "as",
    "at",
    "for",
    "usually",
    "often",
    "may",
    "can",
    "be",
    "has",
    "have",
    "this",
    "than",
    "more",
    "rather",
    "into",
    "their",
    "typically",
    "very",
    "some",
    "such",
}


@functools.lru_cache(maxsize=1024)
def _description_words(description: str) -> tuple[str, ...]:
    words = [w.strip(".,;:()'\"").lower() for w in description.split()]
    return tuple(w for w in words if len(w) > 2 and w not in _STOP and w.isalpha())


def make_caption(
    concept: Concept,
    level: int,
    rng: np.random.Generator,
    name_override: str | None = None,
    about_class: float = 1.0,
) -> str:
    """One caption of ``concept`` at descriptiveness ``level`` (see CAPTION_LEVELS).

    ``name_override`` replaces the name (for wrong-name noise); ``""`` removes it.
    ``about_class`` in (0, 1]: the share of the level's words about the class (its
    description words, the defining sentence) that the caption keeps; the rest of
    such a caption is about its image (see :func:`make_captions`).
    """
    syn = concept.synonyms[int(rng.integers(len(concept.synonyms)))] if concept.synonyms else concept.name
    name = concept.name if level == 0 else syn
    if name_override is not None:
        name = name_override
    words = _description_words(concept.description)

    def share(k):
        return max(1, int(round(k * about_class)))

    def pick(k):
        return (
            [words[i] for i in rng.choice(len(words), size=min(k, len(words)), replace=False)][: share(k)]
            if words
            else []
        )

    kind = CAPTION_LEVELS[level]
    if kind in ("template_name", "template_synonym"):
        text = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(name or "thing")
    elif kind == "title":
        text = _TITLES[int(rng.integers(len(_TITLES)))].format(name or "thing")
    elif kind == "tags":
        tags = (
            ([name] if name else [])
            + pick(int(rng.integers(2, 5)))
            + [_FILLER_TAGS[i] for i in rng.choice(len(_FILLER_TAGS), size=2, replace=False)]
        )
        order = rng.permutation(len(tags))
        text = ", ".join(tags[i] for i in order)
    elif kind == "description":
        text = " ".join(pick(int(rng.integers(4, 8)))) or "something"
    else:  # full_text
        first = concept.description.split(". ")[0].rstrip(".").split()
        first = " ".join(first[: share(len(first))])
        text = f"{name}: {first[0].lower() + first[1:]}." if name else first + "."
    return text


# Words for how far an image lies from its class's typical look, by within-class distance quantile
# (above 1/2, 3/4, 9/10): the more atypical the image, the more of its caption is about the image.
ATYPICAL_WORDS = ("unusual looking", "strange unusual looking", "very strange unusual odd looking")
_ATYPICAL_CUTS = (0.5, 0.75, 0.9)
# Colour words and their hues (degrees); none of them names an ImageNet class (a test checks).
COLOUR_HUES = {
    "red": 0,
    "amber": 30,
    "yellow": 60,
    "green": 120,
    "teal": 180,
    "blue": 230,
    "purple": 280,
    "pink": 330,
}


def atypicality(images: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """How atypical each image is for its class: 0 (typical) to len(ATYPICAL_WORDS).

    The tier counts how many of the within-class distance quantiles ``_ATYPICAL_CUTS``
    the image's pixel distance from its class's mean image exceeds. Classes with fewer
    than three images are all typical.
    """
    flat = images.float().flatten(1) / 255
    labels = torch.as_tensor(np.asarray(labels))
    tier = torch.zeros(len(flat), dtype=torch.long)
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        dist = (flat[idx] - flat[idx].mean(0)).norm(dim=1)
        if len(idx) >= 3:
            tier[idx] = sum((dist > dist.quantile(q)).long() for q in _ATYPICAL_CUTS)
    return tier.numpy()


def pixel_look(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The look of uint8 images: the colour of their centre (the object; (n, 3) in [0, 1]) and how busy their
    top and bottom rows (the background) are ((n,))."""
    x = images.float() / 255
    n, _, h, w = x.shape
    centre = x[:, :, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].mean((2, 3))
    border = torch.cat([x[:, :, :2].flatten(2), x[:, :, -2:].flatten(2)], 2)
    return centre, border.std(2).mean(1)


def image_words(
    look, images: torch.Tensor, labels: np.ndarray, tier: np.ndarray | None = None
) -> list[tuple[str, ...]]:
    """Words that describe each image itself: its dominant colour, how unusual it looks, its background.

    ``look``: the object's colour and the background's busyness, read off the pixels (:func:`pixel_look`)
    or the scene (:func:`studylib.retina.render_features`); how far the image lies from its class's mean
    image gives the graded :data:`ATYPICAL_WORDS` (see :func:`atypicality`). A caption that uses them
    describes this image, not only its class, so filtering captions by their similarity to the class text
    changes which images are kept (LAIONet). ``tier``: the images' :func:`atypicality`, when already computed.
    """
    centre, busy = look
    n = len(centre)
    hue = (
        torch.rad2deg(
            torch.atan2(
                3**0.5 * (centre[:, 1] - centre[:, 2]), 2 * centre[:, 0] - centre[:, 1] - centre[:, 2]
            )
        )
        % 360
    )
    names, hues = list(COLOUR_HUES), torch.tensor(list(COLOUR_HUES.values()), dtype=torch.float32)
    gap = (hue[:, None] - hues[None, :]).abs()
    colour = torch.minimum(gap, 360 - gap).argmin(1)  # the nearest named hue
    grey = (centre.max(1).values - centre.min(1).values) < 0.04
    busy_cut = busy.median() if n else 0
    tier = atypicality(images, labels) if tier is None else tier
    out = []
    for i in range(n):
        words = (
            "grey" if grey[i] else names[int(colour[i])],
            ATYPICAL_WORDS[int(tier[i]) - 1] if tier[i] else "",
            "busy cluttered background" if busy[i] > busy_cut else "plain background",
        )
        out.append(tuple(wd for wd in words if wd))
    return out


def make_captions(
    concepts,
    labels,
    cfg: WorldConfig,
    rng: np.random.Generator,
    mix=None,
    domains=None,
    images=None,
    look=None,
):
    """Captions, their levels, and the concepts each caption truly names.

    ``mix``: per-sample level weights (n, 6) for mixtures of sources; default
    ``cfg.caption_mix`` for every sample. ``domains``: per-sample rendering
    (index into DOMAINS); a shifted image's caption says so ("drawing: ...").
    ``images`` (and their ``look``, :func:`pixel_look` by default): with ``cfg.caption_image_words`` = q > 0,
    each word of
    :func:`image_words` joins the caption with probability q, and an image of
    atypicality tier k (of K, :func:`atypicality`) keeps only a share 1 - q k / K of
    its level's words about the class: the more atypical the image, the more its
    caption is about the image and the less about the class, so an image–caption
    similarity threshold keeps a less diverse set the higher it is (LAIONet).
    """
    described, about = None, np.ones(len(labels))
    if images is not None and cfg.caption_image_words > 0:
        tier = atypicality(images, labels)
        described = image_words(pixel_look(images) if look is None else look, images, labels, tier)
        about = 1 - cfg.caption_image_words * tier / len(ATYPICAL_WORDS)
    if mix is None:
        mix = np.asarray(cfg.caption_mix, float)
        levels = rng.choice(len(CAPTION_LEVELS), size=len(labels), p=mix / mix.sum())
    else:
        cum = np.cumsum(mix / mix.sum(1, keepdims=True), axis=1)
        levels = np.minimum((rng.random((len(labels), 1)) > cum).sum(1), len(CAPTION_LEVELS) - 1)
    noise = rng.random((len(labels), 3))
    others = rng.integers(0, len(concepts) - 1, size=(len(labels), 2)) if len(concepts) > 1 else None
    captions, mentions = [], []
    for i, (y, lvl) in enumerate(zip(labels, levels)):
        c = concepts[y]
        named = () if CAPTION_LEVELS[lvl] == "description" else (int(y),)
        override = None
        if named and noise[i, 0] < cfg.p_no_name:
            override, named = "", ()
        elif named and others is not None and noise[i, 1] < cfg.p_wrong_name:
            j = int(others[i, 0] + (others[i, 0] >= y))
            override, named = concepts[j].name, (j,)
        text = make_caption(c, int(lvl), rng, override, float(about[i]))
        if others is not None and noise[i, 2] < cfg.p_extra_name:
            j = int(others[i, 1] + (others[i, 1] >= y))
            text = f"{text.rstrip('.')} and a {concepts[j].name}"
            named = named + (j,) if j not in named else named
        if described is not None:
            extra = [wd for wd in described[i] if rng.random() < cfg.caption_image_words]
            if extra:
                text = f"{text.rstrip('.')}, {', '.join(extra)}"
        if domains is not None and domains[i]:
            words = STYLE_WORDS[DOMAINS[int(domains[i])]]
            text = f"{words[int(rng.integers(len(words)))]}: {text}"
        captions.append(text)
        mentions.append(named)
    return captions, levels.astype(np.int64), mentions


# ---------------------------------------------------------------- sources
# (the styles themselves are data: studylib.config.SOURCES)


def draw(cfg: WorldConfig, z: np.ndarray, domain: str, dseed: int, rng, nuisance: float = 1.0):
    """Latents ``z`` seen in ``domain`` under ``cfg.render``: (uint8 images, look: object colour and background
    busyness). ``pixels``: (n, 3, size, size) images (:func:`render`); ``features``: (n, feature_dim) vectors
    through the fixed retina (:func:`studylib.retina.render_features`)."""
    if cfg.render == "features":
        return render_features(z, cfg.feature_dim, domain, dseed, rng, nuisance, cfg.shape_weight)
    images = render(z, cfg.image_size, domain, dseed, rng, nuisance=nuisance, shape_weight=cfg.shape_weight)
    return images, pixel_look(images)


def image_shape(cfg: WorldConfig) -> tuple:
    """One image's shape under ``cfg.render``."""
    return (cfg.feature_dim,) if cfg.render == "features" else (3, cfg.image_size, cfg.image_size)


def _source_draws(cfg, n: int):
    """(source names, source index per training sample, rendering domain index per sample): the web-like share
    of shifted styles (see :func:`_render_sources`), from their own streams."""
    weights = parse_sources(cfg.source)
    names = list(weights)
    if len(names) == 1:
        which = np.zeros(n, dtype=np.int64)
    else:
        which = _rng(cfg, "source").choice(len(names), size=n, p=list(weights.values()))
    srng = _rng(cfg, "shift")
    domains = np.zeros(n, dtype=np.int64)
    for k, name in enumerate(names):
        idx = np.flatnonzero(which == k)
        share = cfg.shift_share * SOURCES[name]["shift_share"]
        shifted = idx[srng.random(len(idx)) < share]
        domains[shifted] = [
            DOMAINS.index(SHIFT_STYLES[j]) for j in srng.integers(0, len(SHIFT_STYLES), len(shifted))
        ]
    return names, which, domains


def _render_sources(cfg, z, dseed, rng):
    """Training images, their look, per-sample caption mixes, source ids and rendering domains of the
    configured source(s).

    A web-like source renders a share ``cfg.shift_share`` of its images in a shifted style
    (sketch, rendition or unusual pose and background, uniformly): the test shifts are rare
    in web data, not absent. A curated source (``imagenet``) renders photos only.
    """
    names, which, domains = _source_draws(cfg, len(z))
    n = len(z)
    images = torch.empty(n, *image_shape(cfg), dtype=torch.uint8)
    centre, busy = torch.zeros(n, 3), torch.zeros(n)
    for k, name in enumerate(names):
        for d, domain in enumerate(DOMAINS):
            idx = np.flatnonzero((which == k) & (domains == d))
            if len(idx):
                images[idx], (centre[idx], busy[idx]) = draw(
                    cfg, z[idx], domain, dseed, rng, SOURCES[name]["nuisance"]
                )
    mix = None
    if names != ["web"]:
        mix = np.empty((n, len(CAPTION_LEVELS)))
        for k, name in enumerate(names):
            mix[which == k] = SOURCES[name]["caption_mix"] or cfg.caption_mix
    source_ids = np.array([list(SOURCES).index(name) for name in names])[which]
    return images, (centre, busy), mix, source_ids, domains


# ---------------------------------------------------------------- the world
def _train_draws(cfg: WorldConfig):
    """The training split's draws before rendering: (concepts, open concepts, counts, mode centres, decoder
    seed, the train stream, labels, latents); the train stream goes on to render the images."""
    concepts = select_subset(
        load_concepts(),
        cfg.subset,
        cfg.n_classes if cfg.subset != "all" else None,
        seed=int(_rng(cfg, "subset").integers(2**31)),
    )
    if cfg.subset == "all" and len(concepts) != cfg.n_classes:
        concepts = concepts[: cfg.n_classes]
    counts = allocate_counts(class_profile(cfg, concepts), cfg.n_train, cfg.min_per_class)
    open_concepts = ()
    if cfg.open_world:
        open_concepts = select_subset(
            load_concepts(),
            "random",
            cfg.open_world,
            exclude={c.index for c in concepts},
            seed=int(_rng(cfg, "open").integers(2**31)),
        )
    every = tuple(concepts) + tuple(open_concepts)
    all_counts = (
        np.concatenate(
            [
                counts,
                allocate_counts(
                    np.full(len(open_concepts), 1 / max(1, len(open_concepts))), cfg.open_world_pairs, 0
                ),
            ]
        )
        if open_concepts
        else counts
    )
    _, modes = _class_latents(cfg, every)
    dseed = int(seeds.rng(cfg.physics_seed, "decoder").integers(2**62))

    rng = _rng(cfg, "train")
    labels = rng.permutation(np.repeat(np.arange(len(every)), all_counts))
    z = _sample_latents(modes, labels, cfg.diversity, rng)
    return concepts, tuple(open_concepts), counts, modes, dseed, rng, labels, z


@dataclass
class Scenes:
    """A features world's training images as scenes, to be seen again under fresh nuisance (DINO's views):
    latents (n, latent_dim), each sample's rendering domain (index into DOMAINS) and source nuisance."""

    latents: np.ndarray
    domains: np.ndarray
    nuisance: np.ndarray
    seed: int  # the retina's (the world's physics)
    feature_dim: int
    shape_weight: float


def train_scenes(cfg: WorldConfig) -> Scenes:
    """The training split's scenes of ``cfg`` (the same draws :func:`make_world` renders), without rendering."""
    *_, dseed, _, _, z = _train_draws(cfg)
    names, which, domains = _source_draws(cfg, len(z))
    nuisance = np.array([SOURCES[name]["nuisance"] for name in names], dtype=np.float64)[which]
    return Scenes(z, domains, nuisance, dseed, cfg.feature_dim, cfg.shape_weight)


def make_world(cfg: WorldConfig) -> World:
    """Generate the world of ``cfg`` (deterministic in ``cfg.world_seed``)."""
    concepts, open_concepts, counts, modes, dseed, rng, labels, z = _train_draws(cfg)
    every = tuple(concepts) + tuple(open_concepts)
    images, look, mix, source_ids, domains = _render_sources(cfg, z, dseed, rng)
    captions, levels, mentions = make_captions(
        every, labels, cfg, _rng(cfg, "captions"), mix, domains, images, look
    )
    train = Split(images, labels, captions, levels, mentions, source_ids, domains)

    test = {}
    test_labels = np.repeat(np.arange(len(concepts)), cfg.test_per_class)
    for domain in cfg.test_domains:
        trng = seeds.rng(cfg.world_seed, "test", seeds.STREAMS[domain])
        zt = _sample_latents(modes[: len(concepts)], test_labels, cfg.diversity, trng)
        test[domain] = Split(draw(cfg, zt, domain, dseed, trng)[0], test_labels.copy())
    return World(cfg, concepts, counts, train, test, tuple(open_concepts))
