"""CLIP: the contrastive image-text objective, with open_clip's own ``ClipLoss``.

Symmetric InfoNCE over the in-batch pairs (with several processes, open_clip
gathers the negatives of every rank); zero-shot evaluation with the
class-prompt embeddings of the text tower. The text tower is trained from
scratch, or initialised from another CLIP's text tower and optionally frozen
(the paper's ``inittext`` / ``freezetext``): from a checkpoint file on real
data (open_clip architectures), or from a run named as the ``text_init``
dependency of the run spec on the concept world.

    python -m studylib train --preset paper -p objective=clip -p text_tower=frozen -p text_init=/ckpt/clip.pt ...
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import torch

from studylib.config import ConfigError
from studylib.evaluate import Classifier, prompts_for, text_embeddings
from studylib.objectives.base import Objective, register


@dataclass(frozen=True)
class ClipConfig:
    text_width: int = 64  # text transformer width (tiny arch)
    text_layers: int = 2  # text transformer depth (tiny arch)
    text_arch: str = "transformer"  # tiny arch: transformer | bag (mean of token embeddings, projected)
    context_length: int = 24  # text tokens per caption (longer captions are cut)
    text_tower: str = "scratch"  # scratch | init | frozen (from text_init or a text_init run dependency)
    # | minilm (tiny arch: frozen all-MiniLM-L6-v2, trained projection)
    text_init: str = ""  # checkpoint file whose text tower initialises ours (open_clip archs)

    choices: ClassVar = {
        "text_tower": ("scratch", "init", "frozen", "minilm"),
        "text_arch": ("transformer", "bag"),
    }
    positive: ClassVar = {"text_width", "text_layers", "context_length"}


def make_clip_loss(rank: int = 0, world_size: int = 1):
    """open_clip's ClipLoss; with several processes it gathers global negatives.

    (Loaded here, not at module level, and without the rest of open_clip
    (:mod:`studylib.models.openclip_parts`): importing the package costs
    seconds, and a notebook reading cached runs never needs it.)
    """
    from studylib.models.openclip_parts import part

    ClipLoss = part("loss").ClipLoss

    if world_size > 1:
        return ClipLoss(
            local_loss=True, gather_with_grad=True, cache_labels=True, rank=rank, world_size=world_size
        )
    return ClipLoss(cache_labels=True)


class CorpusTokenizer:
    """A compact vocabulary as a tokenizer; the training corpus itself is encoded once and reused."""

    def __init__(self, vocab, corpus=None, corpus_tokens=None):
        self.vocab, self._corpus, self._tokens = vocab, corpus, corpus_tokens

    def __len__(self):
        return len(self.vocab)

    def __call__(self, texts) -> torch.Tensor:
        if texts is self._corpus and self._tokens is not None:
            return self._tokens
        return self.vocab.encode(texts)


class SentenceTokenizer:
    """Texts to frozen all-MiniLM-L6-v2 sentence embeddings ((n, 384) float32, cached on disk by
    :func:`studylib.concepts.embed_texts`); the training corpus is embedded once and reused."""

    dim = 384

    def __init__(self, corpus=None):
        self._corpus, self._embedded = corpus, None

    def __len__(self):
        return 0  # no token table: the language model is frozen

    def __call__(self, texts) -> torch.Tensor:
        from studylib.concepts import embed_texts

        if texts is self._corpus:
            if self._embedded is None:
                self._embedded = torch.from_numpy(embed_texts(list(texts)))
            return self._embedded
        return torch.from_numpy(embed_texts(list(texts)))


@functools.lru_cache(maxsize=4)
def _vocabulary(corpus_key: str, context_length: int, captions: tuple, class_names: tuple):
    from studylib.models.vocabulary import Vocabulary

    return Vocabulary(list(captions) + prompts_for(class_names), context_length)


@functools.lru_cache(maxsize=4)
def _encoded(corpus_key: str, vocab, captions: tuple) -> torch.Tensor:
    return vocab.encode(captions)


@register
class Clip(Objective):
    name = "clip"
    Config = ClipConfig
    needs = frozenset({"images", "tokens"})
    dependencies = frozenset({"text_init"})

    def check(self):
        self.require_text_tower("text_init")
        tiny = self.train.arch == "tiny"
        if tiny and self.cfg.text_init:
            raise ConfigError(
                "parameter 'text_init' (a checkpoint file) is for open_clip architectures; the tiny "
                "CLIP takes its text tower from a run: name it as the run's 'text_init' dependency"
            )
        if not tiny and self.deps:
            raise ConfigError(
                f"run dependencies {sorted(self.deps)} work with arch='tiny'; for arch="
                f"{self.train.arch!r} give a checkpoint file with -p text_init=PATH"
            )
        if self.cfg.text_tower == "minilm" and (not tiny or self.deps):
            raise ConfigError(
                "text_tower='minilm' (a frozen MiniLM with a trained projection) is for arch='tiny' "
                "without run dependencies; for open_clip archs use text_tower='frozen' with text_init"
            )
        needs_dep = self.cfg.text_tower in ("init", "frozen")
        if tiny and needs_dep != ("text_init" in self.deps) and self.cfg.text_tower != "minilm":
            raise ConfigError(
                f"parameter 'text_tower'={self.cfg.text_tower!r} needs a 'text_init' run dependency "
                "(and a 'text_init' dependency needs text_tower='init' or 'frozen')"
            )
        if tiny and self.data.captions is None:
            raise ConfigError(
                "arch=tiny CLIP builds its vocabulary from the captions, which shards do not list "
                "up front: use an open_clip arch (e.g. -p arch=RN50) with webdataset shards"
            )

    def _tiny_tokenizer(self) -> CorpusTokenizer:
        dep = self.deps.get("text_init")
        captions = tuple(self.data.captions)
        if dep is not None:
            vocab = dep.objective.tokenizer.vocab
            key = f"{self.data.corpus_key}|{dep.run.key}"
        else:
            vocab = _vocabulary(
                self.data.corpus_key, self.cfg.context_length, captions, tuple(self.data.class_names)
            )
            key = self.data.corpus_key
        tokens = _encoded(key, vocab, captions) if self.data.corpus_key else None
        return CorpusTokenizer(vocab, self.data.captions, tokens)

    def build_model(self):
        tc, cc = self.train, self.cfg
        if tc.arch != "tiny":
            from studylib.models.openclip import create_clip

            model, self.tokenizer, transforms = create_clip(
                tc.arch, pretrained=tc.pretrained, text_tower=cc.text_tower, text_init=cc.text_init
            )
            return model, transforms
        from studylib.models.tiny import ClipModel, SentenceProjection

        torch.manual_seed(tc.seed)
        if cc.text_tower == "minilm":
            self.tokenizer = SentenceTokenizer(self.data.captions)
            return ClipModel(
                tc.width,
                tc.embed_dim,
                0,
                cc.context_length,
                cc.text_width,
                cc.text_layers,
                text=SentenceProjection(SentenceTokenizer.dim, tc.embed_dim),
                feature_dim=self.data.feature_dim,
            ), None
        self.tokenizer = self._tiny_tokenizer()
        model = ClipModel(
            tc.width,
            tc.embed_dim,
            len(self.tokenizer),
            cc.context_length,
            cc.text_width,
            cc.text_layers,
            feature_dim=self.data.feature_dim,
            text_arch=cc.text_arch,
        )
        dep = self.deps.get("text_init")
        if dep is not None:
            self._copy_text_tower(dep, model)
        return model, None

    def _copy_text_tower(self, dep, model):
        source = dep.model.text.state_dict()
        target = model.text.state_dict()
        bad = [k for k in target if k not in source or source[k].shape != target[k].shape]
        if bad:
            raise ConfigError(
                f"the text tower of run {dep.run.key} does not fit this CLIP ({bad[:3]}): give both "
                "runs the same text_width, text_layers, context_length and embed_dim"
            )
        model.text.load_state_dict(source)
        if self.cfg.text_tower == "frozen":
            model.text.requires_grad_(False)

    def setup(self, device, rank, world_size, class_counts=None, *, total_steps):
        super().setup(device, rank, world_size, class_counts, total_steps=total_steps)
        self.loss_fn = make_clip_loss(rank, world_size)

    def loss(self, model, batch, step):
        # model(images, tokens), not encode_* directly, so that DDP's gradient sync sees the forward pass
        image_features, text_features, logit_scale = model(batch["images"], batch["tokens"])
        # vocab: the captions each image is contrasted with (the local batch)
        return self.loss_fn(image_features, text_features, logit_scale), {"vocab": len(batch["images"])}

    def features(self, model, images):
        return model.encode_image(images)

    def classifier(self, model):
        weights = text_embeddings(model, self.tokenizer, self.data.class_names)
        return Classifier(weights, None, float(model.logit_scale.detach().exp()), False)

    def run_metrics(self, model) -> dict:
        """``prompt_mean_cosine``: the mean pairwise cosine of the class-prompt embeddings (how far apart the
        text tower holds the classes; 1 would be one point)."""
        w = self.classifier(model).weights.float()
        n = len(w)
        if n < 2:
            return {}
        cos = w @ w.T
        return {"prompt_mean_cosine": float((cos.sum() - cos.diagonal().sum()) / (n * (n - 1)))}
