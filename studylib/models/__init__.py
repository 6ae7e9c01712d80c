"""Models: what a training run optimises.

* ``tiny``: CNN image encoder, short text transformer, CLIP and SL models small enough for 2 CPU cores;
* ``heads``: classification heads (linear, cosine, fixed prototypes) and prototype builders;
* ``vocabulary``: open_clip BPE tokens remapped to a corpus's compact vocabulary;
* ``openclip``: any open_clip architecture behind the same interfaces, local checkpoints only.
* ``openclip_parts``: open_clip's ``loss.py`` and ``tokenizer.py`` loaded without the package.
"""
