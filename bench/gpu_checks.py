"""GPU checks of the trainer (run on a GPU machine; CPU tests cover the rest).

1. A concept-world run (smoke preset) trains on the GPU with bf16 autocast and
   fused AdamW, and gives finite losses and sane metrics.
2. A NaN loss on the GPU (no per-step host sync) is reported with the step
   where it first appeared.
3. An interrupted GPU run resumed from its checkpoint ends with the same
   metrics as an uninterrupted one (within bf16/cuDNN nondeterminism).
4. studylib.data.make_loader pins memory by default on a GPU machine.

    python bench/gpu_checks.py            # prints one line per check, exits 1 on a failure
"""

from __future__ import annotations

import sys
import tempfile

import torch

from studylib.config import train_config
from studylib.data.sources import InMemorySource, TrainData
from studylib.objectives.base import DataInfo
from studylib.objectives.sl import SL, SLConfig
from studylib.pipeline import run
from studylib.registry import Registry
from studylib.spec import RunSpec, resolve
from studylib.train import TrainingDiverged, train


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}", flush=True)
    return ok


def main() -> int:
    device = sys.argv[1] if len(sys.argv) > 1 else "cuda"  # "cpu" only to check the script itself
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    results = []
    params = {
        **resolve("smoke", n_classes=40, n_train=2400, epochs=2, checkpoint_every=20, device=device),
        "objective": "clip",
    }
    with tempfile.TemporaryDirectory() as tmp:
        whole = run(RunSpec(params, label="whole"), registry=Registry(f"{tmp}/a"), progress=False)
        hist = whole.table("history")
        results.append(
            check(
                "world run on GPU",
                bool(hist["loss"].notna().all()) and 0 <= whole.metrics["top1"] <= 1,
                f"top1 {whole.metrics['top1']:.3f}, loss {hist['loss'].iloc[0]:.3f} -> "
                f"{hist['loss'].iloc[-1]:.3f}, {whole.metrics['train_seconds']:.1f}s",
            )
        )

        class Stop(Exception):
            pass

        def stop(step):
            if step == 30:
                raise Stop

        reg = Registry(f"{tmp}/b")
        try:
            run(RunSpec(params, label="resumed"), registry=reg, progress=False, on_step=stop)
        except Stop:
            pass
        resumed = run(RunSpec(params, label="resumed"), registry=reg, progress=False)
        diff = abs(resumed.metrics["top1"] - whole.metrics["top1"])
        results.append(
            check(
                "resume on GPU",
                diff <= 0.05,
                f"top1 {whole.metrics['top1']:.3f} uninterrupted vs {resumed.metrics['top1']:.3f} resumed",
            )
        )

    cfg = train_config(resolve("smoke"), objective="sl", device=device)
    objective = SL(SLConfig(), cfg, DataInfo("world", ["a", "b", "c"], torch.tensor([1, 0, 0]).numpy(), 16))
    model, _ = objective.build_model()
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    n = 64 * 30
    data = TrainData(
        torch.zeros(n, 3, 16, 16, dtype=torch.uint8),
        torch.zeros(n, dtype=torch.long),
        None,
        torch.tensor([n, 0, 0]),
    )
    try:
        train(
            model,
            objective,
            InMemorySource(data, cfg.batch_size, cfg.seed),
            cfg,
            name="nan-run",
            progress=False,
        )
        results.append(check("NaN detection on GPU", False, "no error raised"))
    except TrainingDiverged as err:
        results.append(check("NaN detection on GPU", "at step 1 " in str(err), str(err)))

    from studylib.data.adapters import ImageTextDataset, make_loader

    loader = make_loader(ImageTextDataset([]), 4, shuffle=False, drop_last=False)
    results.append(check("pinned memory by default", loader.pin_memory is torch.cuda.is_available()))
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
