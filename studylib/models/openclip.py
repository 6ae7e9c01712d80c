"""Any open_clip architecture (RN50, ViT-B-32, ViT-B-16, ConvNeXt, ...) for CLIP and SL training.

Why: the ``paper`` preset trains the paper's own architectures (RN50 and ViT-B
at 224 px) on the user's real data, but the trainer is written against the tiny
:class:`studylib.models.tiny.ClipModel` / :class:`studylib.models.tiny.SLModel`
interfaces. This module builds any model in ``open_clip.list_models()`` with
open_clip's own factory and wraps it in adapters with exactly those interfaces:

* :class:`OpenClipModel` (from :func:`create_clip`): ``.visual``,
  ``.logit_scale``, ``encode_image`` / ``encode_text`` returning L2-normalised
  features and ``forward(images, tokens) -> (image_features, text_features,
  logit_scale.exp())``; the open_clip model itself is ``.clip``.
* :class:`OpenClipSLModel` (from :func:`create_sl`): the open_clip image tower
  plus a :class:`studylib.models.heads.Head`; ``forward(images, classes=None) -> logits``.

Nothing is ever downloaded: models are built with ``pretrained=None`` and
weights come only from local checkpoint files (open_clip trainer checkpoints
with ``"state_dict"`` and ``"module."`` prefixes, plain state dicts, the
adapters' own ``state_dict()``, or ``.safetensors``). Download tags such as
``"openai"`` are refused. The text tower can be trained from scratch, initialised
from a checkpoint (the paper's ``inittext``) or initialised and frozen
(``freezetext``). A ViT's patch convolution runs as the same map written as one matrix product
(:mod:`studylib.models.patch_embed`, faster on a GPU; parameter names unchanged).

:func:`flops_per_sample` counts forward+backward FLOPs per training sample
(for throughput / MFU reports) and :func:`channels_last_ok` says whether the
image tower is convolutional (so ``channels_last`` inputs help).

Example::

    from studylib.models.openclip import create_clip, create_sl, flops_per_sample

    model, tokenizer, (train_tf, eval_tf) = create_clip(
        "ViT-B-32", pretrained="", text_tower="frozen", text_init="runs/clip/epoch_32.pt")
    img, txt, scale = model(images, tokenizer(["a photo of a dog"] * len(images)))
    print(model.loaded_keys["text_init"][:3], flops_per_sample("ViT-B-32") / 1e9)  # ~44 GFLOP

    sl, (train_tf, eval_tf) = create_sl("RN50", n_classes=1000, head="cosine")
    logits = sl(images)                       # (n, 1000)

Long because open_clip adapters for CLIP and SL, offline checkpoint loading with exact key checks,
and FLOP counts.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from studylib.models.heads import Head
from studylib.models.patch_embed import patch_embedding_as_matmul

log = logging.getLogger(__name__)

TEXT_TOWERS = ("scratch", "init", "frozen")
# state-dict prefixes of the text tower in open_clip's ``CLIP`` class (``CustomTextCLIP``: "text.")
CLIP_TEXT_PREFIXES = (
    "token_embedding",
    "positional_embedding",
    "transformer.",
    "ln_final.",
    "text_projection",
)
# wrappers whose prefix is stripped from checkpoint keys: DDP, torch.compile, our adapters
_WRAPPER_PREFIXES = ("module.", "_orig_mod.", "clip.")

_FLOPS_CACHE: dict[tuple[str, str], int] = {}
_TOKENIZERS: dict[str, object] = {}


# --------------------------------------------------------------------------- argument checks


def _check_arch(arch: str) -> dict:
    """The open_clip config of ``arch``; ValueError naming close matches when unknown."""
    import open_clip

    names = open_clip.list_models()
    if not isinstance(arch, str) or arch not in names:
        folded = {n.lower().replace("_", "-"): n for n in names}
        query = str(arch).lower().replace("_", "-").replace("/", "-")
        close = [folded[n] for n in difflib.get_close_matches(query, list(folded), n=5, cutoff=0.4)]
        hint = f" Close names: {', '.join(close)}." if close else ""
        raise ValueError(
            f"arch={arch!r} is not an open_clip architecture (open_clip.list_models(); "
            f"schemas like 'hf-hub:' are not supported offline).{hint} "
            f"For example: RN50, ViT-B-32, ViT-B-16."
        )
    return open_clip.get_model_config(arch)


def _is_download_tag(value: str, arch: str) -> bool:
    import open_clip

    tags = set(open_clip.list_pretrained_tags_by_model(arch))
    tags.update(tag for _, tag in open_clip.list_pretrained())
    return value in tags or value.lower() in {t.lower() for t in tags}


def _checkpoint_path(value, argname: str, arch: str) -> Path:
    """Validate a local checkpoint path given as ``argname``; never accepts a download tag."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{argname} must be a path to a local checkpoint file, got {type(value).__name__}")
    text = os.fspath(value)
    if text.startswith(("hf-hub:", "http://", "https://", "local-dir:")):
        raise ValueError(
            f"{argname}={text!r}: only local checkpoint files are accepted; "
            f"nothing may be downloaded at run time"
        )
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise ValueError(f"{argname}={text!r} is a directory; pass the checkpoint file inside it")
    if _is_download_tag(text, arch) or (os.sep not in text and "/" not in text and not path.suffix):
        raise ValueError(
            f"{argname}={text!r} looks like an open_clip pretrained tag, which would download "
            f"weights; pass the path of a local checkpoint file (or '' for random init)"
        )
    raise FileNotFoundError(f"{argname}: checkpoint file {text!r} does not exist")


def _require_hf_cached(arch: str, cfg: dict) -> None:
    """Architectures whose tokenizer / text model comes from Hugging Face need it in the local cache."""
    text_cfg = cfg.get("text_cfg", {})
    repos = {text_cfg.get(k) for k in ("hf_model_name", "hf_tokenizer_name")} - {None, ""}
    for repo in sorted(repos):
        try:
            from huggingface_hub import snapshot_download

            snapshot_download(repo, local_files_only=True)
        except Exception as err:  # noqa: BLE001 - any failure means "not available offline"
            raise ValueError(
                f"arch={arch!r} takes its tokenizer/text model from Hugging Face ({repo!r}), which is not in "
                f"the local Hugging Face cache, and nothing may be downloaded at run time. Populate the cache "
                f"beforehand, or use an architecture with open_clip's own tokenizer (RN50, ViT-B-32, ViT-B-16)."
            ) from err


# --------------------------------------------------------------------------- checkpoints


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, unwrapped from ``state_dict`` and DDP/compile/adapter prefixes."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        ckpt = load_file(str(path), device="cpu")
    else:
        try:
            try:  # memory-mapped: only the tensors that are used get read (e.g. the text tower)
                ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # legacy (non-zip) serialisation
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(
                f"cannot read checkpoint {str(path)!r} (a torch state dict is expected): {err}"
            ) from err
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict) or not ckpt or not all(torch.is_tensor(v) for v in ckpt.values()):
        raise ValueError(f"checkpoint {str(path)!r} holds no state dict of tensors")
    sd = dict(ckpt)
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
                changed = True
    return sd


def _prepare_clip_state_dict(clip: nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Bring a CLIP state dict into ``clip``'s layout (what open_clip's ``load_checkpoint`` does)."""
    from open_clip.convert import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

    sd = convert_state_dict(clip, dict(sd))
    custom_text = not hasattr(clip, "positional_embedding")
    if custom_text and "positional_embedding" in sd:
        sd = convert_to_custom_text_state_dict(sd)
    elif not custom_text and "text.positional_embedding" in sd:  # custom-text layout -> CLIP layout
        sd = {
            (k[5:] if k.startswith("text.") and k[5:].startswith(CLIP_TEXT_PREFIXES) else k): v
            for k, v in sd.items()
        }
    for name in ("logit_scale", "logit_bias"):
        own = getattr(clip, name, None)
        if name in sd and own is not None and sd[name].ndim != own.ndim:
            sd[name] = sd[name].reshape(own.shape)
    if getattr(clip, "logit_bias", None) is not None and "logit_bias" not in sd and "logit_scale" in sd:
        sd["logit_bias"] = torch.zeros_like(sd["logit_scale"])
    sd.pop("text.transformer.embeddings.position_ids", None)
    resize_pos_embed(sd, clip)
    resize_text_pos_embed(sd, clip)
    return sd


def _load_exact(module: nn.Module, sd: dict[str, torch.Tensor], keys, what: str) -> list[str]:
    """Copy ``keys`` of ``sd`` into ``module`` after checking presence and shapes; returns the keys."""
    own = module.state_dict()
    keys = sorted(keys)
    missing = [k for k in keys if k not in sd]
    if missing:
        raise ValueError(f"{what}: {len(missing)} keys missing, e.g. {missing[:5]}")
    bad = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in keys
        if sd[k].shape != own[k].shape
    ]
    if bad:
        raise ValueError(f"{what}: shape mismatch (another architecture?), e.g. {bad[:3]}")
    result = module.load_state_dict({k: sd[k] for k in keys}, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    return keys


def _text_keys(clip: nn.Module) -> list[str]:
    """State-dict keys of the text tower of an open_clip model (both CLIP and CustomTextCLIP layouts)."""
    keys = clip.state_dict().keys()
    if hasattr(clip, "positional_embedding"):
        return [k for k in keys if k.startswith(CLIP_TEXT_PREFIXES)]
    return [k for k in keys if k.startswith("text.")]


def _unwrap(model: nn.Module) -> nn.Module:
    """The module itself, without DDP / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


# --------------------------------------------------------------------------- CLIP


class OpenClipModel(nn.Module):
    """An open_clip model behind :class:`studylib.models.ClipModel`'s interface.

    ``loaded_keys`` maps ``"pretrained"`` / ``"text_init"`` to the state-dict keys
    loaded from each checkpoint; ``frozen_keys`` lists the frozen parameters.
    """

    def __init__(self, clip: nn.Module, arch: str):
        super().__init__()
        self.clip = clip
        self.arch = arch
        self.loaded_keys: dict[str, list[str]] = {"pretrained": [], "text_init": []}
        self.frozen_keys: list[str] = []

    @property
    def visual(self) -> nn.Module:
        return self.clip.visual

    @property
    def logit_scale(self) -> nn.Parameter:
        return self.clip.logit_scale

    @property
    def logit_bias(self):
        """SigLIP-style learnable bias (None for CLIP architectures); not part of ``forward``'s output."""
        return getattr(self.clip, "logit_bias", None)

    @property
    def context_length(self) -> int:
        return int(self.clip.context_length)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image features, (n, embed_dim)."""
        return F.normalize(self.clip.encode_image(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """L2-normalised text features of open_clip token ids, (n, embed_dim)."""
        return F.normalize(self.clip.encode_text(tokens), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        """(image_features, text_features, logit_scale.exp()), features L2-normalised."""
        return self.encode_image(images), self.encode_text(tokens), self.clip.logit_scale.exp()


def create_clip(
    arch: str, *, pretrained: str = "", text_tower: str = "scratch", text_init: str = "", device="cpu"
):
    """Build open_clip architecture ``arch`` for CLIP training, without any download.

    Args:
        arch: an ``open_clip.list_models()`` name, e.g. ``"RN50"``, ``"ViT-B-32"``, ``"ViT-B-16"``.
        pretrained: ``""`` for random initialisation, or the path of a local checkpoint file of the
            whole model (loaded strictly; ``"state_dict"`` / ``"module."`` wrappers are unwrapped).
            Download tags such as ``"openai"`` are refused.
        text_tower: ``"scratch"`` (as built / as in ``pretrained``), ``"init"`` (copy the text tower
            -- token_embedding, positional_embedding, transformer, ln_final, text_projection -- from the
            checkpoint ``text_init``) or ``"frozen"`` (as ``"init"``, then ``requires_grad=False`` on them).
        text_init: local checkpoint file for ``"init"`` / ``"frozen"``; must be empty for ``"scratch"``.
        device: where the model is placed.

    Returns:
        ``(model, tokenizer, (train_transform, eval_transform))``: an :class:`OpenClipModel`, open_clip's
        tokenizer for ``arch`` (``tokenizer(list_of_str) -> LongTensor (n, context_length)``) and the
        transforms open_clip returns for it (PIL image -> normalised tensor).

    Raises:
        ValueError: unknown ``arch``, bad ``text_tower`` / ``text_init`` combination, a download tag or
            URL, a checkpoint that does not fit the architecture.
        FileNotFoundError: a checkpoint path that does not exist.
    """
    import open_clip

    cfg = _check_arch(arch)
    if text_tower not in TEXT_TOWERS:
        raise ValueError(f"text_tower={text_tower!r}: use one of {', '.join(TEXT_TOWERS)}")
    if text_tower == "scratch" and text_init:
        raise ValueError(f"text_init={text_init!r} is only used with text_tower='init' or 'frozen'")
    if text_tower != "scratch" and not text_init:
        raise ValueError(
            f"text_tower={text_tower!r} needs text_init, the path of a checkpoint with a text tower"
        )
    ckpt = _checkpoint_path(pretrained, "pretrained", arch) if pretrained else None
    text_ckpt = _checkpoint_path(text_init, "text_init", arch) if text_init else None
    _require_hf_cached(arch, cfg)

    clip, train_tf, eval_tf = open_clip.create_model_and_transforms(
        arch, pretrained=None, pretrained_image=False, pretrained_text=False, device=device
    )
    patch_embedding_as_matmul(clip.visual)  # a ViT's patch convolution as one matrix product (faster on GPU)
    if arch not in _TOKENIZERS:  # building the BPE tables takes ~0.4 s
        _TOKENIZERS[arch] = open_clip.get_tokenizer(arch)
    tokenizer = _TOKENIZERS[arch]
    model = OpenClipModel(clip, arch)

    if ckpt is not None:
        sd = _prepare_clip_state_dict(clip, _read_state_dict(ckpt))
        own = set(clip.state_dict())
        unexpected = sorted(set(sd) - own)
        if unexpected:
            raise ValueError(
                f"pretrained={str(ckpt)!r} does not fit arch={arch!r}: unexpected keys, e.g. {unexpected[:5]}"
            )
        model.loaded_keys["pretrained"] = _load_exact(clip, sd, own, f"pretrained={str(ckpt)!r} for {arch!r}")
        log.info("%s: loaded %d tensors from %s", arch, len(own), ckpt)

    if text_ckpt is not None:
        sd = _prepare_clip_state_dict(clip, _read_state_dict(text_ckpt))
        keys = _load_exact(clip, sd, _text_keys(clip), f"text_init={str(text_ckpt)!r} for {arch!r}")
        model.loaded_keys["text_init"] = keys
        log.info(
            "%s: text tower initialised from %s (%d tensors: %s ...)",
            arch,
            text_ckpt,
            len(keys),
            ", ".join(keys[:4]),
        )
        if text_tower == "frozen":
            text = set(keys)
            for name, p in clip.named_parameters():
                if name in text:
                    p.requires_grad_(False)
                    model.frozen_keys.append(name)
            log.info("%s: froze %d text parameters", arch, len(model.frozen_keys))
    return model, tokenizer, (train_tf, eval_tf)


# --------------------------------------------------------------------------- SL


class OpenClipSLModel(nn.Module):
    """An open_clip image tower plus a :class:`studylib.models.heads.Head` (interface of ``SLModel``)."""

    def __init__(self, visual: nn.Module, head: Head, arch: str):
        super().__init__()
        self.visual = visual
        self.head = head
        self.arch = arch
        self.loaded_keys: list[str] = []

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The image tower's pooled embedding, before the head."""
        feats = self.visual(images)
        return feats[0] if isinstance(feats, tuple) else feats  # (pooled, tokens) towers

    def forward(self, images: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (n, n_classes), or (n, len(classes)) for the classes ``classes`` only."""
        return self.head(self.features(images), classes)


def _build_visual(cfg: dict, device="cpu") -> nn.Module:
    """The image tower of an open_clip config only (no text tower, no download)."""
    from open_clip.model import _build_vision_tower

    vision_cfg = dict(cfg["vision_cfg"])
    if "timm_model_name" in vision_cfg:
        vision_cfg["timm_model_pretrained"] = False
    vision_cfg["output_tokens"] = False  # CoCa towers would also return the patch tokens
    tower = _build_vision_tower(cfg["embed_dim"], vision_cfg, cfg.get("quick_gelu", False), None).to(device)
    patch_embedding_as_matmul(tower)
    return tower


def _transforms_for(visual: nn.Module):
    """The (train, eval) transforms open_clip's factory returns for a model with this image tower."""
    from dataclasses import asdict

    from open_clip.transform import PreprocessCfg, image_transform_v2

    pp = asdict(PreprocessCfg())
    if getattr(visual, "image_size", None) is not None:
        pp["size"] = visual.image_size
    visual.preprocess_cfg = dict(pp)
    pp = PreprocessCfg(**pp)
    return image_transform_v2(pp, is_train=True), image_transform_v2(pp, is_train=False)


def create_sl(
    arch: str, n_classes: int, *, pretrained: str = "", head: str = "linear", prototypes=None, device="cpu"
):
    """Build the image tower of open_clip architecture ``arch`` with a classification head.

    Args:
        arch: an ``open_clip.list_models()`` name.
        n_classes: number of classes of the head.
        pretrained: ``""`` (random init) or a local checkpoint file; only its image tower
            (``visual.*`` keys of a CLIP or SL checkpoint, or an un-prefixed image-tower state dict) is
            loaded, strictly. Heads in the checkpoint are ignored. Download tags are refused.
        head: ``"linear"``, ``"cosine"`` or ``"prototype"`` (see :class:`studylib.models.Head`).
        prototypes: (n_classes, embed_dim) tensor for the ``prototype`` head.
        device: where the model is placed.

    Returns:
        ``(model, (train_transform, eval_transform))`` with an :class:`OpenClipSLModel`; the transforms
        are open_clip's defaults for the architecture (as ``create_model_and_transforms`` without a tag).
    """
    cfg = _check_arch(arch)
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 1:
        raise ValueError(f"n_classes={n_classes!r} must be a positive int")
    if head not in ("linear", "cosine", "prototype"):
        raise ValueError(f"head={head!r}: use linear, cosine or prototype")
    ckpt = _checkpoint_path(pretrained, "pretrained", arch) if pretrained else None

    visual = _build_visual(cfg, device)
    model = OpenClipSLModel(visual, Head(head, cfg["embed_dim"], n_classes, prototypes), arch).to(device)
    train_tf, eval_tf = _transforms_for(visual)
    if ckpt is not None:
        from open_clip.model import resize_pos_embed

        sd = _read_state_dict(ckpt)
        if any(k.startswith("visual.") for k in sd):
            sd = {k: v for k, v in sd.items() if k.startswith("visual.")}
        else:
            sd = {f"visual.{k}": v for k, v in sd.items()}
        resize_pos_embed(sd, model)
        sd = {k[len("visual.") :]: v for k, v in sd.items()}
        own = set(visual.state_dict())
        unexpected = sorted(set(sd) - own)
        if unexpected:
            raise ValueError(
                f"pretrained={str(ckpt)!r} does not fit the image tower of {arch!r}: "
                f"unexpected keys, e.g. {unexpected[:5]}"
            )
        keys = _load_exact(visual, sd, own, f"pretrained={str(ckpt)!r} for the image tower of {arch!r}")
        model.loaded_keys = [f"visual.{k}" for k in keys]
        log.info("%s: image tower loaded from %s (%d tensors)", arch, ckpt, len(keys))
    return model, (train_tf, eval_tf)


# --------------------------------------------------------------------------- FLOPs, memory format


def _count_flops(arch: str, kind: str, device: str) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    cfg = _check_arch(arch)
    with torch.device(device):
        if kind == "clip":
            import open_clip

            _require_hf_cached(arch, cfg)
            model = open_clip.create_model(
                arch, pretrained=None, pretrained_image=False, pretrained_text=False, device=device
            )
            visual = model.visual
        else:
            model = visual = _build_visual(cfg, device)
        size = getattr(visual, "image_size", None) or cfg["vision_cfg"].get("image_size", 224)
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        images = torch.randn(1, 3, h, w)
        if kind == "clip":
            ctx = int(getattr(model, "context_length", 77))
            vocab = int(getattr(model, "vocab_size", 49408))
            tokens = torch.randint(1, vocab, (1, ctx))
    model.train()
    # CPU's fused attention kernel has no FLOP formula: the math backend decomposes it into counted bmms
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        if kind == "clip":
            img = model.encode_image(images, normalize=True)
            txt = model.encode_text(tokens, normalize=True)
            loss = (img * txt).sum() * model.logit_scale.exp()
        else:
            loss = model(images).float().sum()
        loss.backward()
    return int(counter.get_total_flops())


def flops_per_sample(arch: str, kind: str = "clip") -> int:
    """Forward+backward FLOPs for one training sample of ``arch`` (cached per process).

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` on one forward+backward of batch 1 at the
    model's image size (and, for ``kind="clip"``, one text of the model's context length, 77 tokens for
    CLIP configs). ``kind="sl"`` counts the image tower only (the head is negligible). The counter
    counts matmuls, convolutions and attention (2 FLOPs per multiply-add, backward included) but not
    element-wise ops (norms, activations, softmax outside fused attention, optimizer), so this is the
    usual "model FLOPs" for MFU. The batch-dependent contrastive logits (2 * batch * embed_dim per
    sample, forward) are not included. Measured with open_clip 3.3.0 / torch 2.14 (GFLOP per training
    sample, clip / sl): ViT-B-32 44.1 / 26.2 (3 x 2 x 7.35 GMAC, matching open_clip's published
    7.4 "GFLOPs", which are multiply-adds), RN50 54.5 / 36.6, ViT-B-16 123.0 / 105.1.

    The model is built on the ``meta`` device (no memory, no weights, about a second even for large
    towers), falling back to a CPU build if an architecture cannot be built there. Attention runs
    through PyTorch's math backend while counting: the CPU fused kernel has no FLOP formula and
    would otherwise be counted as zero (0.7 GFLOP of ViT-B-32's 44).
    """
    if kind not in ("clip", "sl"):
        raise ValueError(f"kind={kind!r}: use 'clip' or 'sl'")
    key = (arch, kind)
    if key not in _FLOPS_CACHE:
        try:
            flops = _count_flops(arch, kind, "meta")
        except (ValueError, FileNotFoundError):
            raise
        except Exception as err:  # noqa: BLE001 - some towers do data-dependent work at build time
            log.info("meta-device FLOP count of %s failed (%s); counting on CPU", arch, err)
            flops = _count_flops(arch, kind, "cpu")
        _FLOPS_CACHE[key] = flops
    return _FLOPS_CACHE[key]


def channels_last_ok(model: nn.Module) -> bool:
    """True when the image tower is convolutional (ModifiedResNet, timm convnets): ``channels_last`` helps.

    Accepts an adapter from this module, a studylib model, an open_clip model or an image tower
    (DDP / torch.compile wrappers are looked through). A tower counts as convolutional when it has a
    ``Conv2d`` other than a ViT patch embedding (kernel == stride); ViTs return False.
    """
    model = _unwrap(model)
    visual = _unwrap(getattr(model, "visual", model))
    from open_clip.modified_resnet import ModifiedResNet

    if isinstance(visual, ModifiedResNet):
        return True
    for m in visual.modules():
        if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) != tuple(m.stride):
            return True
    return False
