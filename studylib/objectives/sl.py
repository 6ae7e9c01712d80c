"""Supervised learning (SL): cross-entropy over class labels, optionally over a subsampled vocabulary.

Vocabulary subsampling (Wen et al. 2024, Sec. 4): per step, the classes
present in the batch plus extra classes drawn without replacement,
uniformly, proportional to training frequency, or to its square root, until
``vocab_k`` classes are scored. This mimics what CLIP's batch does
implicitly: each step contrasts only the concepts that happen to be in it.

Heads: ``linear``, ``cosine`` or ``prototype`` (fixed class prototypes). The
prototypes are the class-prompt embeddings of a CLIP run when the run spec
names one as its ``prototypes`` dependency; without one, the concepts' MiniLM
vectors are used, an *oracle* control (those vectors generate the pixels).
Labels are the true ones or, with ``labels="captions"``, mined from the
captions by matching class names (Fang et al. 2022), on the concept world.

    python -m studylib train --preset paper -p objective=sl -p vocab_k=512 ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from studylib.config import ConfigError
from studylib.data.sources import dist_info
from studylib.evaluate import Classifier, text_embeddings
from studylib.models.heads import semantic_prototypes
from studylib.objectives.base import Objective, register
from studylib.seeds import step_seed


@dataclass(frozen=True)
class SLConfig:
    labels: str = "true"  # true | captions (mined by matching class names; concept world only)
    head: str = "linear"  # linear | cosine | prototype (fixed prototypes)
    vocab_k: int = 0  # classes scored per step when subsampling; 0 = all classes
    vocab_weighting: str = "uniform"  # extra classes drawn uniform | freq | sqrt

    choices: ClassVar = {
        "labels": ("true", "captions"),
        "head": ("linear", "cosine", "prototype"),
        "vocab_weighting": ("uniform", "freq", "sqrt"),
    }
    non_negative: ClassVar = {"vocab_k"}


def sample_vocabulary(
    labels: torch.Tensor,
    n_classes: int,
    k: int,
    weighting: str,
    class_counts: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Sorted class ids scored this step: every in-batch class plus extras up to ``k``.

    Extras are drawn without replacement from the classes *not* in the batch,
    with weights 1 (``uniform``), count (``freq``) or sqrt(count) (``sqrt``).
    If the batch already holds ``k`` or more classes, only those are scored;
    ``k`` at or above ``n_classes`` scores every class.
    """
    present = torch.unique(labels)
    if k <= 0 or k >= n_classes:
        return torch.arange(n_classes, device=labels.device)
    n_extra = k - len(present)
    if n_extra <= 0:
        return present
    counts = class_counts.double().cpu()
    weights = {"uniform": torch.ones_like(counts), "freq": counts, "sqrt": counts.sqrt()}.get(weighting)
    if weights is None:
        raise ValueError(f"unknown vocab_weighting {weighting!r}: use uniform, freq or sqrt")
    weights = weights.clone()
    weights[present.cpu()] = 0
    n_extra = min(n_extra, int((weights > 0).sum()))
    if n_extra == 0:
        return present
    extra = torch.multinomial(weights, n_extra, replacement=False, generator=generator)
    return torch.sort(torch.cat([present.cpu(), extra])).values.to(labels.device)


@register
class SL(Objective):
    name = "sl"
    Config = SLConfig
    needs = frozenset({"images", "labels"})
    dependencies = frozenset({"prototypes"})

    def check(self):
        self.require_text_tower("prototypes")
        self.check_label_space()
        if self.cfg.labels == "captions" and self.data.caption_labels is None:
            raise ConfigError(
                "parameter 'labels'='captions' mines labels from the concept world's captions; "
                f"this data ({self.data.kind}) has its own labels: use labels='true'"
            )
        if "prototypes" in self.deps and self.cfg.head != "prototype":
            raise ConfigError(
                f"a 'prototypes' run dependency needs head='prototype', got head={self.cfg.head!r}"
            )

    def training_labels(self):
        return self.data.caption_labels() if self.cfg.labels == "captions" else self.data.labels

    def prototypes(self) -> torch.Tensor | None:
        """Fixed class prototypes for the ``prototype`` head: a CLIP run's class-prompt embeddings or the oracle."""
        if self.cfg.head != "prototype":
            return None
        dep = self.deps.get("prototypes")
        if dep is not None:
            return text_embeddings(dep.model, dep.objective.tokenizer, self.data.class_names).cpu()
        if self.data.semantic is None:
            raise ConfigError(
                "head='prototype' needs prototypes: name a CLIP run as the 'prototypes' dependency"
            )
        return semantic_prototypes(self.data.semantic(), self.train.embed_dim, self.train.seed)

    def check_label_space(self):
        if (
            self.cfg.head == "prototype"
            and "prototypes" in self.deps
            and self.data.n_train_classes != self.data.n_classes
        ):
            raise ConfigError(
                "a 'prototypes' dependency gives prototypes for the evaluated classes only; it cannot "
                "be combined with open-world concepts (open_world > 0)"
            )

    def build_model(self):
        tc = self.train
        protos = self.prototypes()
        if protos is not None and protos.shape[1] != tc.embed_dim:
            raise ConfigError(
                f"the prototypes have dimension {protos.shape[1]} but embed_dim={tc.embed_dim}: "
                "give the SL run the embed_dim of the CLIP run that makes them"
            )
        if tc.arch == "tiny":
            from studylib.models.tiny import SLModel

            torch.manual_seed(tc.seed)
            return SLModel(
                tc.width,
                tc.embed_dim,
                self.data.n_train_classes,
                self.cfg.head,
                protos,
                self.data.feature_dim,
            ), None
        from studylib.models.openclip import create_sl

        model, transforms = create_sl(
            tc.arch,
            self.data.n_train_classes,
            pretrained=tc.pretrained,
            head=self.cfg.head,
            prototypes=protos,
        )
        return model, transforms

    def setup(self, device, rank, world_size, class_counts=None, *, total_steps):
        super().setup(device, rank, world_size, class_counts, total_steps=total_steps)
        self.counts = None if class_counts is None else class_counts.to(device)

    def loss(self, model, batch, step):
        images, labels = batch["images"], batch["labels"]
        n_classes = self.data.n_train_classes
        k = self.cfg.vocab_k
        if k <= 0 or k >= n_classes:
            return F.cross_entropy(model(images), labels), {"vocab": n_classes}
        gen = torch.Generator().manual_seed(step_seed(self.train.seed, step))  # the same draw on every rank
        batch_labels = labels
        if dist_info()[1] > 1:
            import torch.distributed as dist

            parts = [torch.empty_like(labels) for _ in range(dist_info()[1])]
            dist.all_gather(parts, labels)
            batch_labels = torch.cat(parts)
        vocab = sample_vocabulary(batch_labels, n_classes, k, self.cfg.vocab_weighting, self.counts, gen)
        logits = model(images, classes=vocab)
        return F.cross_entropy(logits, torch.searchsorted(vocab, labels)), {"vocab": len(vocab)}

    def features(self, model, images):
        return model.features(images)

    def classifier(self, model):
        """The head restricted to the evaluated classes (open-world classes are trained on, never scored)."""
        weights, bias, scale, normalize = model.head.scores()
        n = self.data.n_classes
        return Classifier(weights[:n], None if bias is None else bias[:n], scale, normalize)
