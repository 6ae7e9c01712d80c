"""What every chapter notebook needs, so that notebooks stay wiring and prose.

    ch = Chapter("02_imbalance", preset=preset, overrides=dict(seed=seed, epochs=epochs),
                 extras=dict(highlight=(highlight, str)))
    run = ch.run("CLIP", objective="clip")       # cached in the registry
    ch.save(fig, "accuracy_vs_frequency", "per-class accuracy against training frequency")

Parameters are checked when the chapter starts: a wrong type or value from
papermill or the CLI stops the notebook with a message naming the parameter.
Overrides equal to ``None`` (or 0 for "from preset" integers, see
``from_preset``) leave the preset's value.
"""
from __future__ import annotations

from studylib.config import ConfigError, resolve, world_config
from studylib.experiment import run_experiment
from studylib.figures import save_figure
from studylib.registry import Registry


def from_preset(value):
    """Notebook convention: 0, 0.0, "" or None means 'take the preset's value'."""
    return None if value in (None, 0, 0.0, "") and not isinstance(value, bool) else value


class Chapter:
    def __init__(self, name: str, preset: str, overrides: dict | None = None, extras: dict | None = None,
                 progress: bool = True):
        for key, (value, kind) in (extras or {}).items():
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"parameter {key!r} must be {kind.__name__}, got {type(value).__name__} {value!r}")
        raw = overrides or {}
        for key, value in raw.items():
            if isinstance(value, bool):
                raise ConfigError(f"parameter {key!r} must not be a bool, got {value!r}")
        self.name, self.preset, self.progress = name, preset, progress
        self.params = resolve(preset, chapter=name, **{k: from_preset(v) for k, v in raw.items()})
        self.registry = Registry()
        self.runs = {}

    @property
    def world_config(self):
        return world_config(self.params)

    def world(self, **overrides):
        """The chapter's world (or a variant of it: ``source=...``, ``n_train=...``), memoised."""
        from studylib.world import cached_world

        return cached_world(world_config(self.params, **overrides))

    def card(self, name: str, **overrides):
        """Write the data card ``world-<preset>-<name>`` of a world variant (built only if the card is stale)."""
        from studylib.cards import write_world_card

        config = world_config(self.params, **overrides)
        return write_world_card((config, lambda: self.world(**overrides)), self.preset,
                                stem=f"world-{self.preset}-{name}")

    def run(self, label: str, keep=None, keep_checkpoint: bool = False, **overrides):
        """The run for this chapter's params plus ``overrides`` (trained only if not cached)."""
        r = run_experiment({**self.params, **overrides}, chapter=self.name, label=label, preset=self.preset,
                           registry=self.registry, progress=self.progress, keep=keep,
                           keep_checkpoint=keep_checkpoint)
        self.runs[label] = r
        return r

    def save(self, fig, name: str, caption: str = ""):
        return save_figure(fig, name, notebook=self.name, preset=self.preset, caption=caption)
