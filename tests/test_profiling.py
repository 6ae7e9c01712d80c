"""Phases of wall time: self-time of nested phases, the file the runner reads, the split of a chapter's time."""

import json
import time

import pytest

from studylib import profiling
from studylib.chapters import summary
from studylib.profiling import split_time


def test_nested_phases_count_their_own_time_once(monkeypatch, tmp_path):
    monkeypatch.setattr(profiling, "_totals", profiling.defaultdict(float))
    monkeypatch.setattr(profiling, "_runs", [])
    monkeypatch.setenv("STUDYLIB_PROFILE", str(tmp_path / "p.json"))
    with profiling.phase("train", run="a"):
        time.sleep(0.05)
        with profiling.phase("world"):
            time.sleep(0.1)
    written = json.loads((tmp_path / "p.json").read_text())
    assert written["phases"]["world"] == pytest.approx(0.1, abs=0.04)
    assert written["phases"]["train"] == pytest.approx(0.05, abs=0.04)
    assert written["runs"] == [{"run": "a", "phase": "train", "seconds": pytest.approx(0.15, abs=0.05)}]
    with pytest.raises(ValueError, match="unknown phase"):
        with profiling.phase("lunch"):
            pass


def test_split_time_and_the_minutes_table():
    profile = {
        "first_session": 1010.0,
        "phases": {"world": 5.0, "embeddings": 0.0, "train": 60.0, "evaluate": 10.0, "figures": 3.0},
    }
    split = split_time(100.0, 1000.0, profile)
    assert split["start-up"] == 10.0 and split["analysis and other"] == 12.0
    assert sum(split.values()) == pytest.approx(100.0)
    table = summary.minutes_table(
        {"01_a": {"seconds": 100.0, "trained": 3, "when": "2026-01-01T00:00:00", "phases": split}}
    )
    assert "| 01_a" in table and "Outside training: 40% of the 1.7 chapter-minutes" in table
    assert split_time(50.0, 1000.0, {})["analysis and other"] == 50.0  # a kernel that never reported
    assert "embeddings of captions" not in table
    split = split_time(
        100.0, 1000.0, {**profile, "phases": {**profile["phases"], "embeddings": 20.0, "train": 52.0}}
    )
    assert split["analysis and other"] == 0.0
    table = summary.minutes_table(
        {"01_a": {"seconds": 100.0, "trained": 3, "when": "2026-01-01T00:00:00", "phases": split}}
    )
    # 20 s of the 100 embedded captions not yet cached: 28 of the other 80 s are outside training
    assert "Of them, 0.3 went to MiniLM embeddings" in table and "without them, 35% is outside" in table


def test_a_cached_run_and_training_steps_reach_the_profile_file(monkeypatch, tmp_path, tiny_params):
    """The runner's run-by-run report: a run read back from the registry is listed as cached, and the training
    loop writes its step, total and epoch while it trains."""
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    monkeypatch.setattr(profiling, "_runs", [])
    monkeypatch.setenv("STUDYLIB_PROFILE", str(tmp_path / "p.json"))
    seen = []
    real = profiling._write
    monkeypatch.setattr(
        profiling, "_write", lambda: (seen.append(dict(profiling._state.get("current") or {})), real())
    )
    spec = RunSpec({**tiny_params, "objective": "sl"}, label="SL", chapter="t", preset="smoke")
    run(spec, progress=False)
    steps = [c for c in seen if c.get("phase") == "train" and "step" in c]
    assert steps and steps[-1]["step"] == steps[-1]["total"] and steps[-1]["epochs"] >= 1
    run(spec, progress=False)
    written = json.loads((tmp_path / "p.json").read_text())
    assert written["runs"][-1] == {"run": "SL", "phase": "cached", "seconds": 0.0}


def test_the_status_line_fits_the_terminal_and_keeps_each_chapters_step_count():
    from studylib.progress import fit_status

    a = "02_imbalance ▸ CLIP seed 3: training step 120/938"
    b = "02b_language_and_vocabulary ▸ SL ×0.25 data: training step 5/47"
    line = fit_status([a, b], 60)
    assert len(line) <= 60 and line.count("|") == 1
    assert line.split("|")[0].strip().endswith("120/938") and line.endswith("5/47")  # never "5/4"
    assert fit_status([a], 200) == a


def test_a_long_phase_outside_any_run_says_what_it_does_and_runs_are_counted(monkeypatch, tmp_path):
    """Progress: a world or MiniLM phase shows in the status line and, past 5 s, gets a line of its own; each
    run that ends is numbered against the last execution's counts ("run n of ~N", and in the whole study)."""
    import io

    from studylib import progress

    monkeypatch.setattr(profiling, "_state", {})
    monkeypatch.setattr(profiling, "_totals", profiling.defaultdict(float))
    monkeypatch.setattr(profiling, "_runs", [])
    monkeypatch.setenv("STUDYLIB_PROFILE", str(tmp_path / "p.json"))
    with profiling.phase("embeddings"):
        inside = json.loads((tmp_path / "p.json").read_text())["current"]
    assert inside["phase"] == "embeddings" and inside["run"] == profiling.BACKGROUND["embeddings"]
    assert json.loads((tmp_path / "p.json").read_text())["current"] is None
    with profiling.phase("train", run="CLIP"), profiling.phase("world"):  # inside a run: the run stays shown
        assert json.loads((tmp_path / "p.json").read_text())["current"]["run"] == "CLIP"

    out = progress.Reporter(io.StringIO())
    f = tmp_path / "q.json"
    since = time.time() - 6
    f.write_text(
        json.dumps({"runs": [], "current": {"run": "a concept world", "phase": "world", "since": since}})
    )
    counter = {"done": 0, "expected": 100}
    state = {"counter": counter, "expected": 3}
    progress.report_profile("02c_x", f, state, out)
    progress.report_profile("02c_x", f, state, out)  # said once
    ended = [
        {"run": "SL", "phase": "train", "seconds": 1.0},
        {"run": "SL", "phase": "evaluate", "seconds": 0.1},
    ]
    f.write_text(json.dumps({"runs": ended + [{"run": "CLIP", "phase": "cached"}], "current": None}))
    progress.report_profile("02c_x", f, state, out)
    lines = out.stream.getvalue().splitlines()
    assert lines[0] == "   02c ▸ a concept world: building (for 5 s so far)" and len(lines) == 3
    assert lines[1].endswith("SL: trained in 1.0 s, evaluated in 0.1 s [run 1 of ~3 · 1 of ~100 in all]")
    assert lines[2].endswith("CLIP: cached [run 2 of ~3 · 2 of ~100 in all]")
    assert progress.count_note(1, None, 1, None) == ""


def test_waiting_for_a_lock_is_its_own_phase_and_left_out_of_the_share(monkeypatch, tmp_path):
    """A chapter that waits for a run another process trains spends that time neither training nor analysing:
    the wait is timed as ``waiting`` and the table's share outside training leaves it out, saying so."""
    import subprocess
    import sys

    from studylib.locking import file_lock

    monkeypatch.setattr(profiling, "_totals", profiling.defaultdict(float))
    lock = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time,filelock; l=filelock.FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(0.6)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with file_lock(lock, what="run 'x'"):
        pass
    holder.wait()
    assert 0.1 < profiling.snapshot()["phases"]["waiting"] < 10  # the holder slept 0.6 s after saying so

    split = split_time(100.0, 1000.0, {"first_session": 1010.0, "phases": {"train": 60.0, "waiting": 20.0}})
    assert split["waiting"] == 20.0 and split["analysis and other"] == 10.0
    table = summary.minutes_table(
        {"01_a": {"seconds": 100.0, "trained": 3, "when": "2026-01-01T00:00:00", "phases": split}}
    )
    # 80 s worked, 60 s of it training: 25% outside training; the 20 s wait is named, not counted
    assert "Outside training: 25% of the 1.3 chapter-minutes" in table
    assert "leaving out 0.3 minutes a chapter waited" in table
