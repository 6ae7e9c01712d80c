"""Joining a torch.distributed process group from the environment (torchrun, submitit)."""

from __future__ import annotations

import os


def init_distributed() -> None:
    """Join the process group that torchrun (or submitit) describes in the environment."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
