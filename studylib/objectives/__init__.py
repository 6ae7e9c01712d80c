"""Training objectives, one file each, and their registry by name.

* ``base``: the :class:`~studylib.objectives.base.Objective` protocol, :class:`DataInfo`, the registry;
* ``clip``: CLIP with open_clip's ``ClipLoss``, zero-shot evaluation;
* ``sl``: supervised cross-entropy with vocabulary subsampling and linear/cosine/prototype heads;
* ``dino``: self-distillation (student, EMA teacher, multi-crop, centring) with prototype subsampling,
  evaluated by a nearest-class-mean probe;
* ``probe``: no training; a nearest-class-mean probe of a frozen ``backbone`` run on this run's data.

Importing this package registers the built-in objectives; ``all_objectives()`` returns every registered
one by name.
"""

from studylib.objectives import base, clip, dino, probe, sl  # noqa: F401  (importing registers them)


def all_objectives() -> dict:
    """The registered objectives by name (the built-ins plus any registered since)."""
    return base.OBJECTIVES
