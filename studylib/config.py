"""Configs as data: the concept world, real data, training; presets; field checks.

Frozen dataclasses describe a run: :class:`WorldConfig` (the concept world),
:class:`DataConfig` (real data instead of the world), :class:`TrainConfig`
(model size and optimisation, the same for every objective). Each objective
adds its own small dataclass (``studylib.objectives.*``: ``ClipConfig``,
``SLConfig``, ...). Every field name is distinct across all of them, so a
notebook or the CLI passes *flat* parameters (``epochs=3``, ``vocab_k=64``)
and :func:`studylib.spec.resolve` routes them.

Each dataclass states its own checks as class-level data (``choices``,
``positive``, ``non_negative``, ``unit_interval``); :func:`build` applies them
and names the parameter in every error.

A preset is a plain dict of parameter values (see :data:`PRESETS`), never a
code path::

    from studylib.spec import resolve
    from studylib.config import world_config, train_config
    p = resolve("quick", epochs=4)             # validated flat dict
    wc, tc = world_config(p), train_config(p)

Long because the three config dataclasses, the presets and their one validation path are kept
together on purpose.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import ClassVar

CAPTION_LEVELS = ("template_name", "template_synonym", "title", "tags", "description", "full_text")
DOMAINS = ("photo", "v2", "sketch", "rendition", "objectnet")

# A source is a style of data: how its captions are written (weights of CAPTION_LEVELS),
# how varied its photos are (nuisance: pose, colour, background) and whether it holds a few
# shifted renderings (shift_share multiplies the world's `shift_share`: 1 for web-like
# sources, 0 for the curated, ImageNet-like one). "web" is the default world.
SOURCES = {
    "web": {"caption_mix": None, "nuisance": 1.0, "shift_share": 1.0},
    "flickr": {"caption_mix": (0.02, 0.08, 0.35, 0.45, 0.05, 0.05), "nuisance": 1.5, "shift_share": 1.0},
    "alttext": {"caption_mix": (0.3, 0.3, 0.2, 0.05, 0.05, 0.1), "nuisance": 1.0, "shift_share": 1.0},
    "encyclopedia": {"caption_mix": (0.05, 0.05, 0.0, 0.0, 0.3, 0.6), "nuisance": 0.5, "shift_share": 1.0},
    "imagenet": {"caption_mix": None, "nuisance": 0.8, "shift_share": 0.0},  # curated: centred photos only
}


class ConfigError(ValueError):
    """A parameter has the wrong name, type or value; the message names it."""


def parse_sources(spec: str) -> dict[str, float]:
    """``"flickr"`` or ``"flickr:0.5,encyclopedia:0.5"`` -> normalised weights per source."""
    out = {}
    for part in spec.split(","):
        name, _, w = part.strip().partition(":")
        if name not in SOURCES:
            raise ConfigError(f"parameter 'source': unknown source {name!r}; choose from {sorted(SOURCES)}")
        try:
            out[name] = out.get(name, 0.0) + (float(w) if w else 1.0)
        except ValueError:
            raise ConfigError(f"parameter 'source': weight {w!r} of {name!r} is not a number") from None
    total = sum(out.values())
    if total <= 0 or any(v < 0 for v in out.values()):
        raise ConfigError(f"parameter 'source': weights must be non-negative and not all 0, got {spec!r}")
    return {k: v / total for k, v in out.items()}


@dataclass(frozen=True)
class WorldConfig:
    """The synthetic concept world (see studylib.world for the generator)."""

    n_classes: int = 300  # concepts drawn from ImageNet-1k
    subset: str = "random"  # all | first | random | subtree:<name>
    image_size: int = 16  # pixels per side (16-32)
    render: str = (
        "pixels"  # pixels (images) | features (the latent scene through the fixed "retina": a vector)
    )
    feature_dim: int = 128  # length of a `features` image (the retina's output)
    latent_dim: int = 32  # visual latent dimension
    n_train: int = 30000  # training pairs (long-tailed)
    test_per_class: int = 10  # balanced test images per class and domain
    profile: str = "zipf"  # balanced | zipf | lognormal | path to classname<TAB>count file
    zipf_alpha: float = 1.0  # exponent of the Zipf profile
    lognormal_sigma: float = 1.5  # spread of the log-normal profile
    min_per_class: int = 2  # every class gets at least this many training pairs
    diversity: float = 0.6  # intra-class nuisance in the visual latent
    semantic_share: float = 0.5  # share of a class latent's variance that comes from MiniLM semantics; the
    # rest is concept-specific visual structure no language model knows (the principle: the data card)
    n_modes: int = 2  # visual modes per concept
    mode_spread: float = 0.5  # distance of modes from the concept centre
    caption_mix: tuple = (0.15, 0.2, 0.2, 0.2, 0.1, 0.15)  # weights of CAPTION_LEVELS
    p_no_name: float = 0.05  # caption never names its concept
    p_wrong_name: float = 0.03  # caption names another concept instead
    p_extra_name: float = 0.05  # caption also names a second concept
    test_domains: tuple = ("photo", "v2")
    source: str = "web"  # data source, or a mixture "flickr:0.5,encyclopedia:0.5"
    shift_share: float = 0.05  # share of a web-like source's images rendered in a shifted style
    shape_weight: float = 0.7  # how much of an object's look is shape and texture rather than colour
    caption_image_words: float = 0.3  # q: each word about the image (colour, atypicality, background)
    # joins its caption with chance q, and the most atypical images
    # keep only 1 - q of their class words (LAIONet's diversity)
    physics_seed: int = 0  # the renderer and each concept's look: worlds sharing it look alike
    open_world: int = 0  # extra concepts from a disjoint ImageNet pool, in training only (never evaluated)
    open_world_pairs: int = 0  # training pairs of those concepts, on top of n_train
    world_seed: int = 0

    choices: ClassVar = {"render": ("pixels", "features")}
    positive: ClassVar = {
        "n_classes",
        "image_size",
        "feature_dim",
        "latent_dim",
        "n_train",
        "test_per_class",
        "n_modes",
    }
    non_negative: ClassVar = {
        "zipf_alpha",
        "lognormal_sigma",
        "min_per_class",
        "diversity",
        "mode_spread",
        "open_world",
        "open_world_pairs",
        "physics_seed",
        "world_seed",
    }
    unit_interval: ClassVar = {
        "semantic_share",
        "p_no_name",
        "p_wrong_name",
        "p_extra_name",
        "shift_share",
        "shape_weight",
        "caption_image_words",
    }

    def __post_init__(self):
        if (
            len(self.caption_mix) != len(CAPTION_LEVELS)
            or sum(self.caption_mix) <= 0
            or any(not isinstance(w, (int, float)) or w < 0 for w in self.caption_mix)
        ):
            raise ConfigError(
                f"parameter 'caption_mix' needs {len(CAPTION_LEVELS)} non-negative weights "
                f"({', '.join(CAPTION_LEVELS)}), got {self.caption_mix!r}"
            )
        if not self.test_domains or any(d not in DOMAINS for d in self.test_domains):
            raise ConfigError(
                f"parameter 'test_domains' takes names from {DOMAINS}, got {self.test_domains!r}"
            )
        if not 8 <= self.image_size <= 64:
            raise ConfigError(f"parameter 'image_size' must lie in [8, 64], got {self.image_size!r}")
        parse_sources(self.source)
        if (self.open_world > 0) != (self.open_world_pairs > 0):
            raise ConfigError(
                "parameters 'open_world' and 'open_world_pairs' go together: both 0, or both > 0 "
                f"(got {self.open_world} and {self.open_world_pairs})"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Model size and optimisation of one training run, whatever the objective."""

    objective: str = "clip"  # a name in studylib.objectives (clip | sl | ...)
    width: int = 32  # image CNN base width
    embed_dim: int = 128  # joint embedding dimension
    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    amp: str = "auto"  # auto (bf16 on GPU) | bf16 | off
    device: str = "auto"  # auto | cpu | cuda
    checkpoint_every: int = 200  # steps between checkpoints (0 = never); never changes results
    compile: bool = False  # torch.compile the model (GPU runs); never changes results
    arch: str = "tiny"  # tiny (our CPU models) or an open_clip config name: RN50, ViT-B-32, ...
    pretrained: str = ""  # local checkpoint file for an open_clip arch ("" = random init)
    seed: int = 0

    choices: ClassVar = {"amp": ("auto", "bf16", "off"), "device": ("auto", "cpu", "cuda")}
    positive: ClassVar = {"width", "embed_dim", "epochs", "batch_size", "lr"}
    non_negative: ClassVar = {"weight_decay", "warmup_steps", "checkpoint_every", "seed"}

    def __post_init__(self):
        if self.pretrained and self.arch == "tiny":
            raise ConfigError(
                f"parameter 'pretrained'={self.pretrained!r} needs an open_clip architecture "
                "(arch='RN50', 'ViT-B-32', ...): arch='tiny' is the concept world's CNN, built "
                "from scratch, and would silently ignore the checkpoint"
            )


@dataclass(frozen=True)
class DataConfig:
    """Real data in place of the concept world (the ``paper`` preset; empty = use the world)."""

    train_data: str = ""  # TSV/CSV (filepath, label, caption), ImageNet-Captions .json, or shards .tar
    data_root: str = ""  # folder that relative image paths are resolved against
    caption_variant: str = "title"  # ImageNet-Captions: title | tags | description | title+tags | ...
    class_prefix: bool = False  # ImageNet-Captions: prefix captions with "{class name}: "
    eval_data: str = ""  # "name=folder[:mask],..." ImageFolder sets; mask imagenet-r|imagenet-a|objectnet
    workers: int = 4  # DataLoader worker processes; part of the key for shards (their split)
    steps_per_epoch: int = 0  # needed for shards (0 = len(dataset) // batch_size)
    verify_data: bool = False  # key runs by the *content* of shards and eval folders (slow), not
    # by names, sizes and mtimes (`--verify-data`)

    non_negative: ClassVar = {"workers", "steps_per_epoch"}


# Fields that can never change a run's results: they are left out of every run key (``workers`` re-enters
# it for shard data, where it decides which worker reads which shard: RealData.key).
RESULTS_NEUTRAL = frozenset({"checkpoint_every", "workers", "compile", "progress", "verify_data"})

PRESETS: dict[str, dict] = {
    # every notebook end to end in seconds (tests, CI)
    "smoke": dict(
        n_classes=40,
        n_train=1200,
        test_per_class=4,
        epochs=1,
        batch_size=64,
        width=8,
        embed_dim=32,
        text_width=32,
        text_layers=1,
        context_length=24,
        checkpoint_every=0,
        warmup_steps=5,
    ),
    # the whole study on two CPU cores in minutes
    "quick": dict(n_classes=300, n_train=20000, test_per_class=10, epochs=6, batch_size=128),
    # larger world, several seeds (CPU for hours or one GPU)
    "full": dict(
        n_classes=500,
        n_train=120000,
        test_per_class=30,
        epochs=15,
        batch_size=256,
        width=48,
        embed_dim=256,
        text_width=256,
        text_layers=4,
    ),
}
# The paper's setting (Wen et al. 2024 train RN50 / ViT-B CLIP and SL models at 224 px on
# ImageNet-Captions, LAIONet and YFCC/CC subsets). The optimisation values are open_clip's
# usual small-scale recipe: check them against the paper's tables before quoting results.
# train_data / data_root / eval_data must be supplied by the user
# (`python -m studylib check-data --preset paper` says what is missing).
PRESETS["paper"] = dict(
    arch="RN50",
    epochs=32,
    batch_size=256,
    lr=5e-4,
    weight_decay=0.2,
    warmup_steps=2000,
    checkpoint_every=1000,
    context_length=77,
    workers=8,
    caption_variant="title+tags",
)

PRESET_SEEDS = {"smoke": (0,), "quick": (0,), "full": (0, 1, 2)}


def _type_error(name, value, want):
    raise ConfigError(f"parameter {name!r} must be {want}, got {type(value).__name__} {value!r}")


def check_type(name: str, value, annotation):
    """``value`` converted to the field's type (int -> float, list -> tuple), or a ConfigError."""
    ann = {"int": int, "float": float, "str": str, "tuple": tuple, "bool": bool}.get(annotation, annotation)
    if ann is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise ConfigError(f"parameter {name!r} must be a finite number, got {value!r}")
        return float(value) if ok else _type_error(name, value, "float")
    if ann is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok else _type_error(name, value, "int")
    if ann is str:
        return value if isinstance(value, str) else _type_error(name, value, "str")
    if ann is bool:
        return value if isinstance(value, bool) else _type_error(name, value, "bool")
    if ann is tuple:
        if isinstance(value, (list, tuple)):
            return tuple(value)
        return _type_error(name, value, "list or tuple")
    return value


def check_field(cls, name: str, value):
    """One field of config dataclass ``cls``: type, then the class's own range rules."""
    field = next((f for f in fields(cls) if f.name == name), None)
    if field is None:
        raise ConfigError(f"{cls.__name__} has no parameter {name!r}")
    value = check_type(name, value, field.type)
    choices = getattr(cls, "choices", {})
    if name in choices and value not in choices[name]:
        raise ConfigError(f"parameter {name!r} must be one of {choices[name]}, got {value!r}")
    if name in getattr(cls, "positive", ()) and not value > 0:
        raise ConfigError(f"parameter {name!r} must be > 0, got {value!r}")
    if name in getattr(cls, "non_negative", ()) and value < 0:
        raise ConfigError(f"parameter {name!r} must be >= 0, got {value!r}")
    if name in getattr(cls, "unit_interval", ()) and not 0 <= value <= 1:
        raise ConfigError(f"parameter {name!r} must lie in [0, 1], got {value!r}")
    return value


def build(cls, params: dict, **overrides):
    """An instance of config dataclass ``cls`` from the matching keys of flat ``params`` (others ignored)."""
    merged = {**params, **overrides}
    values = {f.name: check_field(cls, f.name, merged[f.name]) for f in fields(cls) if f.name in merged}
    return cls(**values)


def world_config(params: dict, **overrides) -> WorldConfig:
    return build(WorldConfig, params, **overrides)


def train_config(params: dict, **overrides) -> TrainConfig:
    return build(TrainConfig, params, **overrides)


def data_config(params: dict, **overrides) -> DataConfig:
    return build(DataConfig, params, **overrides)


def as_dict(cfg) -> dict:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return dataclasses.asdict(cfg)


def key_dict(cfg) -> dict:
    """``as_dict`` without the fields that cannot change results (:data:`RESULTS_NEUTRAL`)."""
    return {k: v for k, v in as_dict(cfg).items() if k not in RESULTS_NEUTRAL}
