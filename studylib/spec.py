"""Run specifications: flat parameters resolved against presets, and the runs they depend on.

:func:`resolve` fills flat parameters from the defaults of every config
(world, data, training, and each registered objective's own dataclass), a
preset, a chapter's sizes, then explicit overrides, and checks every name,
type and range. A :class:`RunSpec` is what the pipeline runs: resolved
parameters, an optional subset of the training pairs, and named run
dependencies (another spec whose output this run uses: ``prototypes``,
``text_init``)::

    from studylib.spec import RunSpec, resolve
    p = resolve("smoke")
    clip = RunSpec({**p, "objective": "clip"}, label="CLIP")
    sl = RunSpec({**p, "objective": "sl", "head": "prototype"}, label="SL, CLIP prototypes",
                 deps={"prototypes": clip})
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields

import numpy as np

from studylib.config import PRESETS, ConfigError, DataConfig, TrainConfig, WorldConfig, check_field
from studylib.objectives import all_objectives
from studylib.objectives.base import get


def all_config_classes() -> list[type]:
    """The world, data and training configs, then every registered objective's Config (once each)."""
    return [
        WorldConfig,
        DataConfig,
        TrainConfig,
        *dict.fromkeys(cls.Config for cls in all_objectives().values()),
    ]


def parameter_fields() -> dict[str, type]:
    """Every known flat parameter name -> the config class that owns it."""
    return {f.name: cls for cls in all_config_classes() for f in fields(cls)}


def unknown_parameter(name: str, known) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(f"unknown parameter {name!r}{hint}")


def validate(params: dict) -> dict:
    """Check names, types and ranges of flat parameters; return a normalised copy."""
    owners = parameter_fields()
    out = {}
    for name, value in params.items():
        if name not in owners:
            raise unknown_parameter(name, owners)
        out[name] = check_field(owners[name], name, value)
    if "objective" in out:
        get(out["objective"])
    world = {k: v for k, v in out.items() if owners[k] is WorldConfig}
    if world:
        WorldConfig(**{**{f.name: f.default for f in fields(WorldConfig)}, **world})  # cross-field checks
    return out


def resolve(preset: str = "quick", sizes: dict | None = None, **overrides) -> dict:
    """Flat parameters: defaults, the preset, a chapter's ``sizes`` for it, then non-None ``overrides``."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"parameter 'preset' must be one of {tuple(PRESETS)}, got {preset!r}")
    params = {
        name: next(f.default for f in fields(cls) if f.name == name)
        for name, cls in parameter_fields().items()
    }
    params.update(PRESETS[preset])
    params.update(sizes or {})
    params.update({k: v for k, v in overrides.items() if v is not None})
    return validate(params)


@dataclass(eq=False)
class RunSpec:
    """One run: resolved flat ``params``, optional training subset ``train_subset`` (indices of
    the world's training pairs), named dependencies."""

    params: dict
    label: str = "run"
    chapter: str = ""
    preset: str = "custom"
    train_subset: np.ndarray | None = None
    deps: dict = field(default_factory=dict)

    def __post_init__(self):
        self.params = validate(self.params)
        if self.train_subset is not None:
            self.train_subset = np.unique(np.asarray(self.train_subset, dtype=np.int64))
        for name, dep in self.deps.items():
            if not isinstance(dep, RunSpec):
                raise ConfigError(f"run dependency {name!r} must be a RunSpec, got {type(dep).__name__}")

    def replace(self, **changes) -> RunSpec:
        """A copy with some parameters changed (``label=...`` etc. change the spec's own fields)."""
        own = {
            k: changes.pop(k) for k in ("label", "chapter", "preset", "train_subset", "deps") if k in changes
        }
        return RunSpec(
            {**self.params, **changes},
            **{
                "label": self.label,
                "chapter": self.chapter,
                "preset": self.preset,
                "train_subset": self.train_subset,
                "deps": self.deps,
                **own,
            },
        )
