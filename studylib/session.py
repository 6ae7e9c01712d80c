"""A notebook's session: its parameters, its runs, its figures, so notebooks stay wiring and prose.

    s = Session("02_imbalance", preset, sizes=ch02.SIZES, overrides=dict(seed=seed, epochs=epochs),
                extras=dict(highlight=(highlight, str)))
    r = s.run("CLIP", objective="clip")          # cached in the registry
    s.save(fig, "accuracy_vs_frequency", "per-class accuracy against training frequency")

Parameters are checked when the session starts: a wrong type or value from
papermill or the CLI stops the notebook with a message naming the parameter.
Overrides equal to ``None`` (or 0 for "from preset" integers, see
:func:`from_preset`) leave the preset's value.
"""

from __future__ import annotations

import math

from studylib.config import PRESET_SEEDS, ConfigError, world_config
from studylib.figures import save_figure
from studylib.outputs import apply as apply_outputs
from studylib.outputs import folders as output_folders
from studylib.pipeline import run
from studylib.profiling import mark_start, phase
from studylib.registry import Registry
from studylib.seeds import training_seeds
from studylib.spec import RunSpec, resolve


def injected_parameters() -> tuple[set, set] | None:
    """(declared, injected) parameter names of a papermill execution of the running notebook, else None.

    papermill puts its ``# Parameters`` cell right after the cell tagged ``parameters``; both are in IPython's
    input history, in that order. A notebook run by hand (JupyterLab) has no injected cell.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    history = list(shell.user_ns.get("In", [])) if shell is not None else []
    for k in range(len(history) - 1, 0, -1):
        if history[k].lstrip().startswith("# Parameters"):
            return _assigned(history[k - 1]), _assigned(history[k])
    return None


def _assigned(source: str) -> set:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def check_injected() -> None:
    """Stop a papermill execution that passed a parameter the notebook does not declare (papermill itself only
    warns): the same check ``studylib run`` makes before starting a kernel, for users of papermill itself."""
    import difflib

    found = injected_parameters()
    if found is None or not found[0]:
        return
    declared, injected = found
    for name in sorted(injected - declared):
        close = difflib.get_close_matches(name, sorted(declared), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(
            f"this notebook has no parameter {name!r}{hint}; parameters: {', '.join(sorted(declared))}"
        )


def from_preset(value):
    """Notebook convention: 0, 0.0, "" or None means 'take the preset's value'."""
    return None if value in (None, 0, 0.0, "") and not isinstance(value, bool) else value


class Session:
    def __init__(
        self,
        name: str,
        preset: str,
        sizes: dict | None = None,
        overrides: dict | None = None,
        extras: dict | None = None,
        progress: bool = True,
        seeds: dict | None = None,
        publish: bool = True,
    ):
        """``publish=False``: a session that only reads stored runs (the summary, a chapter reading the other
        preset's claims) and leaves this process's figure and card folders as they are."""
        for key, (value, kind) in (extras or {}).items():
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(
                    f"parameter {key!r} must be {kind.__name__}, got {type(value).__name__} {value!r}"
                )
            if kind is float and not math.isfinite(value):
                raise ConfigError(f"parameter {key!r} must be a finite number, got {value!r}")
        raw = overrides or {}
        for key, value in raw.items():
            if isinstance(value, bool):
                raise ConfigError(f"parameter {key!r} must not be a bool, got {value!r}")
        check_injected()
        mark_start()
        self.name, self.preset, self.progress = name, preset, progress
        self.seed_count = (seeds or {}).get(preset, len(PRESET_SEEDS.get(preset, (0,))))
        chapter_sizes = (sizes or {}).get(preset, {}) if isinstance(preset, str) else {}
        self.params = resolve(preset, chapter_sizes, **{k: from_preset(v) for k, v in raw.items()})
        # the chapter's parameters as its figures record them: the preset, each parameter the chapter passes
        # (0 = "from the preset" resolved to the value used) and its own extras; the preset fixes everything else
        self.parameters = {
            "preset": preset,
            **{k: self.params.get(k, v) for k, v in raw.items()},
            **{k: v for k, (v, _) in (extras or {}).items()},
        }
        # where figures and cards go (studylib.outputs): a published study at the preset's own values, else a
        # folder named by the preset and the parameters that differ from it; the runner's folders are kept
        defaults = resolve(preset, chapter_sizes) if isinstance(preset, str) else {}
        self.changed = {
            k: self.params[k]
            for k, v in raw.items()
            if from_preset(v) is not None and k in self.params and self.params[k] != defaults.get(k)
        }
        self.outputs = (apply_outputs if publish else output_folders)(preset, self.changed)
        self.registry = Registry()
        self.runs = {}

    @property
    def world_config(self):
        return world_config(self.params)

    def world(self, **overrides):
        """The session's world (or a variant of it: ``source=...``, ``n_train=...``), memoised."""
        from studylib.world_store import cached_world

        return cached_world(world_config(self.params, **overrides))

    def card(self, name: str, extra_sections: dict | None = None, **overrides):
        """Write the data card ``world-<preset>-<name>`` of a world variant (built only if the card is stale)."""
        from studylib.cards import write_world_card

        config = world_config(self.params, **overrides)
        return write_world_card(
            (config, lambda: self.world(**overrides)),
            self.preset,
            extra_sections,
            stem=f"world-{self.preset}-{name}",
        )

    def seeds(self) -> tuple[int, ...]:
        """This preset's training seeds, starting at the session's ``seed``: the chapter's ``SEEDS`` for the
        preset, else :data:`studylib.config.PRESET_SEEDS` (one at smoke and quick, three at full)."""
        return training_seeds(self.params["seed"], self.seed_count)

    def spec(self, label: str, train_subset=None, deps: dict | None = None, **overrides) -> RunSpec:
        """The run spec for this session's params plus ``overrides``."""
        return RunSpec(
            {**self.params, **overrides},
            label=label,
            chapter=self.name,
            preset=self.preset,
            train_subset=train_subset,
            deps=deps or {},
        )

    def run(
        self, label: str, train_subset=None, keep_model: bool = False, deps: dict | None = None, **overrides
    ):
        """The run for this session's params plus ``overrides`` (trained only if not cached)."""
        return self.run_spec(
            self.spec(label, train_subset=train_subset, deps=deps, **overrides), keep_model=keep_model
        )

    def run_spec(self, spec: RunSpec, keep_model: bool = False):
        r = run(spec, registry=self.registry, progress=self.progress, keep_model=keep_model)
        self.runs[spec.label] = r
        return r

    def run_all(self, specs: dict, keep_model=()) -> dict:
        """Run a ``label -> RunSpec`` mapping in order; labels in ``keep_model`` keep their model, and so does
        every spec that another spec of the mapping depends on (else the dependency would train twice: once
        here, once more to keep the model its dependant loads)."""
        needed = {id(dep) for spec in specs.values() for dep in spec.deps.values()}
        return {
            label: self.run_spec(spec, keep_model=label in keep_model or id(spec) in needed)
            for label, spec in specs.items()
        }

    def not_made(self, name: str, caption: str, why: str) -> None:
        """Say in the figure index that figure ``name`` was not drawn, and why (no stale copy is left)."""
        from studylib.figures import record_not_made

        record_not_made(
            name, notebook=self.name, preset=self.preset, caption=caption, why=why, parameters=self.parameters
        )

    def save(self, fig, name: str, caption: str = ""):
        with phase("figures"):
            return save_figure(
                fig, name, notebook=self.name, preset=self.preset, caption=caption, parameters=self.parameters
            )
