"""A chapter's runs read back from the registry, for the README's results table.

runs_by_seed = stored_by_seed(registry, session, lambda k: module.specs(session, k))
if missing := not_run(module.NAME, *runs_by_seed.values()):
    return missing                       # one "not run" row naming the first missing runs
"""

from __future__ import annotations


def stored(registry, specs: dict) -> dict:
    """label -> the registry's run of each spec, None where it was never trained."""
    from studylib.pipeline import run_key

    return {label: registry.load(run_key(spec, registry)) for label, spec in specs.items()}


def stored_by_seed(registry, session, specs_of_seed) -> dict:
    """seed -> :func:`stored` of ``specs_of_seed(seed)``, for each of the session's preset seeds."""
    return {k: stored(registry, specs_of_seed(k)) for k in session.seeds()}


def not_run(chapter: str, *runs: dict, shown: int = 3) -> list[dict]:
    """One summary row saying which runs are missing (the first ``shown`` of them), or [] when none is."""
    missing = sorted({label for rs in runs for label, r in rs.items() if r is None})
    if not missing:
        return []
    names = ", ".join(missing[:shown]) + (", …" if len(missing) > shown else "")
    return [
        {
            "chapter": chapter,
            "claim": "all claims",
            "quantity": "",
            "result": f"not run yet ({names})",
            "verdict": "not run",
        }
    ]
