"""Submit a real-data training run to Slurm with submitit (optional extra ``slurm``).

Each task becomes one DDP process: submitit's environment is exported as the
variables torchrun would set, then the run pipeline (studylib.pipeline) runs as usual.

    python -m studylib submit --preset paper --nodes 2 --gpus-per-node 8 --partition gpu \\
        -p train_data=/data/incaps.tsv -p data_root=/data -p eval_data=val=/data/imagenet/val
"""

from __future__ import annotations

from studylib.fileio import results_dir


def _task(params: dict, label: str, preset: str):
    import submitit

    submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    from studylib.cli.distributed import init_distributed
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    init_distributed()
    result = run(
        RunSpec(params, label=label, preset=preset, chapter="train"), progress=False, keep_model=True
    )
    return None if result is None else result.metrics


def submit(
    params: dict,
    *,
    label: str = "real",
    preset: str = "paper",
    nodes: int = 1,
    gpus_per_node: int = 8,
    partition: str | None = None,
    minutes: int = 24 * 60,
    cluster: str | None = None,
):
    """Submit the run; returns the submitit Job (``job.result()`` waits for rank 0's metrics)."""
    try:
        import submitit
    except ImportError:
        raise ImportError("submitting needs the optional extra: pip install -e '.[slurm]'") from None
    from studylib.data.real_data import check_data

    problems = check_data(params)
    if problems:
        raise ValueError("the real-data parameters are not ready:\n- " + "\n- ".join(problems))
    executor = submitit.AutoExecutor(folder=results_dir() / "slurm" / "%j", cluster=cluster)
    extra = {"slurm_partition": partition} if partition and executor.cluster == "slurm" else {}
    executor.update_parameters(
        nodes=nodes,
        tasks_per_node=max(1, gpus_per_node),
        gpus_per_node=gpus_per_node,
        timeout_min=minutes,
        name=f"studylib-{label}",
        **extra,
    )
    return executor.submit(_task, params, label, preset)
