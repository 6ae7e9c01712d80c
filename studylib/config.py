"""Configs as data: the concept world, the model and objective, training; presets.

Two frozen dataclasses describe a run completely: :class:`WorldConfig` (what
data) and :class:`TrainConfig` (what model, objective and optimisation). All
field names are distinct, so a notebook or the CLI can pass *flat* parameters
(``epochs=3``, ``n_classes=400``) and :func:`resolve` routes them, checks their
types and ranges, and fills the rest from a preset.

A preset is a plain dict of parameter values (see :data:`PRESETS`), never a
code path::

    from studylib.config import resolve, world_config, train_config
    p = resolve("quick", epochs=4)             # validated flat dict
    wc = world_config(p)
    tc = train_config(p, objective="sl", vocab_k=64)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

CAPTION_LEVELS = ("template_name", "template_synonym", "title", "tags", "description", "full_text")
DOMAINS = ("photo", "v2", "sketch", "rendition", "objectnet")


@dataclass(frozen=True)
class WorldConfig:
    """The synthetic concept world (see studylib.world for the generator)."""
    n_classes: int = 300                 # concepts drawn from ImageNet-1k
    subset: str = "random"               # all | first | random | subtree:<name>
    image_size: int = 16                 # pixels per side (16-32)
    latent_dim: int = 32                 # visual latent dimension
    n_train: int = 30000                 # training pairs (long-tailed)
    test_per_class: int = 10             # balanced test images per class and domain
    profile: str = "zipf"                # balanced | zipf | lognormal | path to classname<TAB>count file
    zipf_alpha: float = 1.0              # exponent of the Zipf profile
    lognormal_sigma: float = 1.5         # spread of the log-normal profile
    min_per_class: int = 2               # every class gets at least this many training pairs
    diversity: float = 0.6               # intra-class nuisance in the visual latent
    alignment: float = 0.8               # semantic-visual alignment in [0, 1]
    n_modes: int = 2                     # visual modes per concept
    mode_spread: float = 0.5             # distance of modes from the concept centre
    caption_mix: tuple = (0.15, 0.2, 0.2, 0.2, 0.1, 0.15)  # weights of CAPTION_LEVELS
    p_no_name: float = 0.05              # caption never names its concept
    p_wrong_name: float = 0.03           # caption names another concept instead
    p_extra_name: float = 0.05           # caption also names a second concept
    test_domains: tuple = ("photo", "v2")
    source: str = "web"                  # data source, or a mixture "flickr:0.5,encyclopedia:0.5"
    world_seed: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Model, objective and optimisation of one training run."""
    objective: str = "clip"              # clip | sl
    labels: str = "true"                 # SL labels: true | captions (derived by matching class names)
    head: str = "linear"                 # SL head: linear | cosine | prototype
    vocab_k: int = 0                     # SL vocabulary subsampling size; 0 = all classes
    vocab_weighting: str = "uniform"     # extra classes drawn uniform | freq | sqrt
    width: int = 32                      # image CNN base width
    embed_dim: int = 128                 # joint embedding dimension
    text_width: int = 64                 # text transformer width
    text_layers: int = 2                 # text transformer depth
    context_length: int = 24             # text tokens per caption (longer captions are cut)
    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    amp: str = "auto"                    # auto (bf16 on GPU) | bf16 | off
    device: str = "auto"                 # auto | cpu | cuda
    checkpoint_every: int = 200          # steps between checkpoints (0 = never)
    compile: bool = False                # torch.compile the model (GPU runs)
    arch: str = "tiny"                   # tiny (our CPU models) or an open_clip config name: RN50, ViT-B-32, ...
    pretrained: str = ""                 # local checkpoint file for an open_clip arch ("" = random init)
    text_tower: str = "scratch"          # open_clip text tower: scratch | init | frozen (from text_init)
    text_init: str = ""                  # checkpoint whose text tower initialises ours (init / frozen)
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Real data in place of the concept world (the ``paper`` preset; empty = use the world)."""
    train_data: str = ""                 # TSV/CSV (filepath, label, caption), ImageNet-Captions .json, or shards .tar
    data_root: str = ""                  # folder that relative image paths are resolved against
    caption_variant: str = "title"       # ImageNet-Captions: title | tags | description | title+tags | ...
    class_prefix: bool = False           # ImageNet-Captions: prefix captions with "{class name}: "
    eval_data: str = ""                  # "name=folder[:mask],..." ImageFolder sets; mask imagenet-r|imagenet-a|objectnet
    workers: int = 4                     # DataLoader worker processes
    steps_per_epoch: int = 0             # needed for shards (0 = len(dataset) // batch_size)


CHOICES = {
    "objective": ("clip", "sl"),
    "labels": ("true", "captions"),
    "head": ("linear", "cosine", "prototype"),
    "vocab_weighting": ("uniform", "freq", "sqrt"),
    "amp": ("auto", "bf16", "off"),
    "device": ("auto", "cpu", "cuda"),
    "text_tower": ("scratch", "init", "frozen"),
}
POSITIVE = {"n_classes", "image_size", "latent_dim", "n_train", "test_per_class", "n_modes",
            "width", "embed_dim", "text_width", "text_layers", "context_length", "epochs",
            "batch_size", "lr"}
NON_NEGATIVE = {"zipf_alpha", "lognormal_sigma", "min_per_class", "diversity", "mode_spread",
                "vocab_k", "weight_decay", "warmup_steps", "checkpoint_every", "workers", "steps_per_epoch",
                "p_no_name", "p_wrong_name", "p_extra_name"}
UNIT_INTERVAL = {"alignment", "p_no_name", "p_wrong_name", "p_extra_name"}

PRESETS: dict[str, dict] = {
    # every notebook end to end in seconds (tests, CI)
    "smoke": dict(n_classes=40, n_train=1200, test_per_class=4, epochs=1, batch_size=64,
                  width=8, embed_dim=32, text_width=32, text_layers=1, context_length=24,
                  checkpoint_every=0, warmup_steps=5),
    # the whole study on two CPU cores in minutes
    "quick": dict(n_classes=300, n_train=30000, test_per_class=10, epochs=6, batch_size=128),
    # larger world, several seeds (CPU for hours or one GPU)
    "full": dict(n_classes=500, n_train=120000, test_per_class=30, epochs=15, batch_size=256,
                 width=48, embed_dim=256, text_width=256, text_layers=4),
}
# The paper's setting (Wen et al. 2024 train RN50 / ViT-B CLIP and SL models at 224 px on
# ImageNet-Captions, LAIONet and YFCC/CC subsets). The optimisation values are open_clip's
# usual small-scale recipe: check them against the paper's tables before quoting results.
# train_data / data_root / eval_data must be supplied by the user
# (`python -m studylib check-data --preset paper` says what is missing).
PRESETS["paper"] = dict(arch="RN50", epochs=32, batch_size=256, lr=5e-4, weight_decay=0.2, warmup_steps=2000,
                        checkpoint_every=1000, context_length=77, workers=8, caption_variant="title+tags")

PRESET_SEEDS = {"smoke": (0,), "quick": (0,), "full": (0, 1, 2)}

# Chapters may size their own world within a preset (still plain data): chapter 1
# trains a dozen models, so it uses a smaller world than chapter 2, which needs many
# more classes than a batch; and its question (robustness to distribution shift) is not
# about imbalance, so its world is balanced, as ImageNet roughly is.
CHAPTER_PRESETS: dict[str, dict[str, dict]] = {
    "01_robustness_origins": {
        "smoke": dict(n_classes=20, n_train=480, test_per_class=3, epochs=1, batch_size=32, profile="balanced"),
        "quick": dict(n_classes=100, n_train=6000, test_per_class=20, epochs=4, profile="balanced"),
        "full": dict(n_classes=200, n_train=40000, test_per_class=30, epochs=12, profile="balanced"),
    },
}


def _all_fields():
    return {f.name: f for cls in (WorldConfig, TrainConfig, DataConfig) for f in fields(cls)}


class ConfigError(ValueError):
    """A parameter has the wrong name, type or value; the message names it."""


def _check_type(name, value, annotation):
    ann = {"int": int, "float": float, "str": str, "tuple": tuple, "bool": bool}.get(annotation, annotation)
    if ann is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
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


def _type_error(name, value, want):
    raise ConfigError(f"parameter {name!r} must be {want}, got {type(value).__name__} {value!r}")


def validate(params: dict) -> dict:
    """Check names, types and ranges of flat parameters; return a normalised copy."""
    known = _all_fields()
    out = {}
    for name, value in params.items():
        if name not in known:
            close = [k for k in known if k.startswith(name[:3])]
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise ConfigError(f"unknown parameter {name!r}{hint}")
        value = _check_type(name, value, known[name].type)
        if name in CHOICES and value not in CHOICES[name]:
            raise ConfigError(f"parameter {name!r} must be one of {CHOICES[name]}, got {value!r}")
        if name in POSITIVE and not value > 0:
            raise ConfigError(f"parameter {name!r} must be > 0, got {value!r}")
        if name in NON_NEGATIVE and value < 0:
            raise ConfigError(f"parameter {name!r} must be >= 0, got {value!r}")
        if name in UNIT_INTERVAL and not 0 <= value <= 1:
            raise ConfigError(f"parameter {name!r} must lie in [0, 1], got {value!r}")
        out[name] = value
    if "caption_mix" in out:
        mix = out["caption_mix"]
        if len(mix) != len(CAPTION_LEVELS) or any(not isinstance(w, (int, float)) or w < 0 for w in mix) \
                or sum(mix) <= 0:
            raise ConfigError(f"parameter 'caption_mix' needs {len(CAPTION_LEVELS)} non-negative weights "
                              f"({', '.join(CAPTION_LEVELS)}), got {mix!r}")
    if "test_domains" in out:
        bad = [d for d in out["test_domains"] if d not in DOMAINS]
        if bad or not out["test_domains"]:
            raise ConfigError(f"parameter 'test_domains' takes names from {DOMAINS}, got {out['test_domains']!r}")
    if "source" in out:
        from studylib.world import parse_sources

        try:
            parse_sources(out["source"])
        except ValueError as err:
            raise ConfigError(str(err)) from None
    if "image_size" in out and not 8 <= out["image_size"] <= 64:
        raise ConfigError(f"parameter 'image_size' must lie in [8, 64], got {out['image_size']!r}")
    return out


def resolve(preset: str = "quick", chapter: str | None = None, **overrides) -> dict:
    """Flat parameters: defaults, the preset, the chapter's preset, then non-None ``overrides``."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"parameter 'preset' must be one of {tuple(PRESETS)}, got {preset!r}")
    params = {name: f.default for name, f in _all_fields().items()}
    params.update(PRESETS[preset])
    params.update(CHAPTER_PRESETS.get(chapter, {}).get(preset, {}))
    params.update({k: v for k, v in overrides.items() if v is not None})
    return validate(params)


def world_config(params: dict, **overrides) -> WorldConfig:
    merged = validate({**params, **overrides})
    return WorldConfig(**{f.name: merged[f.name] for f in fields(WorldConfig) if f.name in merged})


def train_config(params: dict, **overrides) -> TrainConfig:
    merged = validate({**params, **overrides})
    return TrainConfig(**{f.name: merged[f.name] for f in fields(TrainConfig) if f.name in merged})


def data_config(params: dict, **overrides) -> DataConfig:
    merged = validate({**params, **overrides})
    return DataConfig(**{f.name: merged[f.name] for f in fields(DataConfig) if f.name in merged})


def as_dict(cfg) -> dict:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return dataclasses.asdict(cfg)
