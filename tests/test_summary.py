"""The README's results table is computed from the registry, verdicts included."""

from pathlib import Path

import pytest

from studylib import claims
from studylib.chapters import ch02, summary
from studylib.cli.main import main
from studylib.registry import Registry
from studylib.session import Session

README = Path(__file__).resolve().parent.parent / "README.md"


def test_an_empty_registry_says_not_run(tmp_path):
    t = summary.table(Registry(tmp_path), "smoke")
    assert set(t["verdict"]) == {"not run"}
    assert set(t["chapter"]) == {
        "01_robustness_origins",
        "02_imbalance",
        "02b_language_and_vocabulary",
        "02c_data_distribution",
        "02d_scale_and_text_heads",
        "02e_open_world",
        "03a_extreme_tail",
        "03b_dino",
        "04_discussions",
    }


def test_chapter_2_verdicts_come_from_its_runs(capsys):
    s = Session(ch02.NAME, "smoke", sizes=ch02.SIZES, progress=False)
    s.run_all(ch02.specs(s))
    t = summary.table(s.registry, "smoke")
    rows = t[t["chapter"] == ch02.NAME]
    assert len(rows) >= 1 and rows["verdict"].isin(claims.VERDICTS).all()
    assert (rows["quantity"].str.len() > 0).all() and not rows["result"].str.contains("nan").any()
    assert main(["summary", "--preset", "smoke", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| 02_imbalance" in out and "generated from the run registry" in out
    cached = list((s.registry.root.parent / "summary").glob("02_imbalance-smoke-*.json"))
    assert len(cached) == 1  # the chapter's claim rows, kept by code and run keys
    again = summary.table(s.registry, "smoke")
    assert again[again["chapter"] == ch02.NAME].reset_index(drop=True).equals(rows.reset_index(drop=True))
    assert main(["summary", "--preset", "smoke"]) == 0  # the terminal view: every line fits 80 columns
    lines = capsys.readouterr().out.splitlines()
    assert "02_imbalance" in lines and max(map(len, lines)) <= 80 and lines[-1].endswith("claims)")


def test_the_readme_table_uses_only_the_five_words_names_each_quantity_and_has_no_nan():
    block = README.read_text().split(summary.START)[1].split(summary.END)[0]
    lines = [line for line in block.splitlines() if line.startswith("| ")][1:]  # rows, header left out
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if not line.startswith("|:")]
    claim_rows = [r for r in rows if len(r) == len(claims.COLUMNS) and r[0][:2].isdigit()]
    assert claim_rows, "the README has no generated claims table"
    for _chapter, claim, quantity, result, verdict in claim_rows:
        assert verdict in claims.VERDICTS, (claim, verdict)
        assert quantity, claim
        assert "nan" not in result.lower().replace("nanosecond", ""), (claim, result)
        parts = [w for w in claims.VERDICTS if f"→ {w}" in result]
        if parts and verdict != "mixed":  # a verdict never contradicts one of its own parts
            assert set(parts) == {verdict}, (claim, verdict, parts)


def test_write_into_replaces_only_the_marked_block(tmp_path):
    f = tmp_path / "R.md"
    f.write_text(f"# title\n{summary.START}\nold\n{summary.END}\ntail\n")
    summary.write_into(f, "new table")
    assert f.read_text() == f"# title\n{summary.START}\nnew table\n{summary.END}\ntail\n"
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(ValueError, match="no <!-- summary:start -->"):
        summary.write_into(tmp_path / "plain.md", "x")


def test_make_study_writes_no_timings_into_the_readme_and_make_publish_does(tmp_path, monkeypatch):
    """`summary --write` (make study) fills the claims block and leaves the minutes block as it was, so a
    study on another machine changes no tracked file when its numbers are the same; `--timings` (make
    publish) writes this machine's minutes."""
    from studylib import profiling

    f = tmp_path / "R.md"
    before = f"{summary.START}\nold\n{summary.END}\n{summary.MINUTES_START}\nthe maintainers' minutes\n{summary.MINUTES_END}\n"
    f.write_text(before)
    profiling.record_timing("quick", "01_a", {"seconds": 60.0, "trained": 1, "when": "2026-12-02T10:00"})
    assert main(["summary", "--write", str(f), "--root", str(tmp_path / "runs")]) == 0
    text = f.read_text()
    assert "the maintainers' minutes" in text and "not run" in text and "| 01_a" not in text
    mtime = f.stat().st_mtime_ns
    assert main(["summary", "--write", str(f), "--root", str(tmp_path / "runs")]) == 0
    assert f.stat().st_mtime_ns == mtime  # the same table: the file is not rewritten
    assert main(["summary", "--write", str(f), "--timings", "--root", str(tmp_path / "runs")]) == 0
    assert "| 01_a" in f.read_text() and "the maintainers' minutes" not in f.read_text()


def test_the_readme_has_the_generated_block_and_no_hand_written_verdict_outside_it():
    text = README.read_text()
    assert summary.START in text and summary.END in text
    outside = text.split(summary.START)[0] + text.split(summary.END)[1]
    if summary.FULL_START in outside:  # the table at full is generated too
        outside = outside.split(summary.FULL_START)[0] + outside.split(summary.FULL_END)[1]
    for word in ("reproduced", "consistent with"):
        assert word not in outside.lower().replace("**reproduced** only", ""), word


def _fake_chapters(folder, *stems):
    for s in stems:
        (folder / f"{s}.py").write_text('# %% tags=["parameters"]\npreset: str = "quick"\nepochs: int = 1\n')
    return [folder / f"{s}.py" for s in stems]


def test_parameters_are_checked_before_any_kernel_starts(tmp_path):
    from studylib import execute

    a, b = _fake_chapters(tmp_path, "01_a", "02_b")
    b.write_text('# %% tags=["parameters"]\npreset: str = "quick"\ntau: float = 1.0\n')
    out = execute.chapter_parameters([a, b], {"preset": "smoke", "tau": 2})
    assert out[a] == {"preset": "smoke"} and out[b] == {"preset": "smoke", "tau": 2.0}
    with pytest.raises(
        ValueError, match=r"no parameter 'epoch' \(did you mean epochs\?\); parameters: epochs"
    ):
        execute.chapter_parameters([a], {"epoch": 2})
    with pytest.raises(ValueError, match="no selected chapter has a parameter 'zzz'"):
        execute.chapter_parameters([a, b], {"zzz": 1})
    with pytest.raises(ValueError, match="parameter 'epochs' must be int, got str 'three'"):
        execute.chapter_parameters([a], {"epochs": "three"})


def test_only_the_published_studies_write_figures(monkeypatch, tmp_path):
    from studylib import runner
    from studylib.fileio import REPO_ROOT, results_dir

    monkeypatch.delenv("STUDYLIB_FIGURES", raising=False)
    monkeypatch.delenv("STUDYLIB_CARDS", raising=False)
    seen = {}
    monkeypatch.setattr(runner, "export_html", lambda notebook, out: out)  # no executed notebook here
    monkeypatch.setattr(runner, "run_in_child", lambda path, params, env: seen.update(env) or path)
    monkeypatch.setattr(runner, "chapters", lambda selection=None: _fake_chapters(tmp_path, "01_a"))
    runner.run_chapters(preset="smoke", progress=False)
    assert seen["STUDYLIB_FIGURES"] == str(results_dir() / "smoke" / "figures")
    assert seen["STUDYLIB_EXECUTED"] == str(results_dir() / "smoke" / "executed")
    runner.run_chapters(preset="quick", overrides={"epochs": 2}, progress=False)
    assert seen["STUDYLIB_FIGURES"] == str(results_dir() / "quick-epochs=2" / "figures")  # says what differs
    seen.clear()
    runner.run_chapters(preset="quick", progress=False)
    assert seen["STUDYLIB_FIGURES"] == str(REPO_ROOT / "figures")  # the published study: figures/ itself
    runner.run_chapters(preset="full", progress=False)
    assert seen["STUDYLIB_FIGURES"] == str(REPO_ROOT / "figures" / "full")  # full's own publication
    assert seen["STUDYLIB_CARDS"] == str(REPO_ROOT / "data_cards" / "full")
    assert seen["STUDYLIB_EXECUTED"] == str(results_dir() / "full" / "executed")


def test_minutes_table_from_recorded_timings(monkeypatch, tmp_path):
    """run_chapters records each chapter's seconds and trained runs; the README table is built from them."""
    from studylib import profiling, runner

    monkeypatch.setattr(runner, "export_html", lambda notebook, out: out)  # no executed notebook here

    monkeypatch.setattr(runner, "run_in_child", lambda path, params, env: path)
    monkeypatch.setattr(runner, "chapters", lambda selection=None: _fake_chapters(tmp_path, "01_a", "02_b"))
    monkeypatch.setattr(runner, "prepare_shared", lambda: 12.3)
    assert profiling.read_timings("smoke") == {}
    runner.run_chapters(preset="smoke", progress=False)
    recorded = profiling.read_timings("smoke")
    assert set(recorded) == {"01_a", "02_b", "__wall__", "__prepare__"} and recorded["01_a"]["trained"] == 0
    assert recorded["__prepare__"]["seconds"] == 12.3
    runner.run_chapters(preset="smoke", overrides={"epochs": 2}, progress=False)  # not the preset's own run
    assert profiling.read_timings("smoke") == recorded
    table = summary.minutes_table(recorded)
    assert "| 01_a" in table and "**all**" in table and "__wall__" not in table and "wall time" in table
    assert "12 s went to embedding" in table
    assert "No recorded chapter timings" in summary.minutes_table({})


def test_chapters_run_after_the_ones_whose_runs_they_reuse(monkeypatch, tmp_path):
    """Two at a time, in reading order, a chapter only after those it reuses runs from; each kernel on one
    thread; a failure stops new starts and is raised."""
    import threading
    import time

    from studylib import execute, runner

    paths = _fake_chapters(tmp_path, "01_a", "02_b", "03_c", "04_d")
    log, lock = [], threading.Lock()

    def fake(path, params, env):
        assert env["OMP_NUM_THREADS"] == "1"
        with lock:
            log.append(("start", path.stem))
        time.sleep(0.2 if path.stem == "01_a" else 0.05)
        with lock:
            log.append(("end", path.stem))
        return path

    monkeypatch.setattr(runner, "export_html", lambda notebook, out: out)  # no executed notebook here

    monkeypatch.setattr(runner, "run_in_child", fake)
    monkeypatch.setattr(runner, "chapters", lambda selection=None: paths)
    done = runner.run_chapters(preset="smoke", progress=False, jobs=2, after={"04_d": ("01_a",)})
    assert [p for p, _ in done] == paths
    assert log.index(("start", "04_d")) > log.index(("end", "01_a"))
    assert log.index(("start", "02_b")) < log.index(("end", "01_a"))  # two at a time
    monkeypatch.setattr(
        runner, "run_in_child", lambda *a: (_ for _ in ()).throw(execute.ChapterFailed("boom"))
    )
    with pytest.raises(execute.ChapterFailed, match="boom"):
        runner.run_chapters(preset="smoke", progress=False, jobs=2)


def test_the_runner_says_which_chapter_of_how_many_and_the_time_left(monkeypatch, tmp_path, capsys):
    from studylib import profiling, runner

    monkeypatch.setattr(runner, "export_html", lambda notebook, out: out)
    monkeypatch.setattr(runner, "run_in_child", lambda path, params, env: path)
    monkeypatch.setattr(runner, "prepare_shared", lambda: None)
    monkeypatch.setattr(
        runner, "chapters", lambda selection=None: _fake_chapters(tmp_path, "01_a", "02_b", "03_c")
    )
    for name, seconds in (("01_a", 60.0), ("02_b", 120.0), ("03_c", 240.0)):
        profiling.record_timing("smoke", name, {"seconds": seconds, "trained": 1, "when": "2026-12-02T10:00"})
    runner.run_chapters(preset="smoke", progress=False, force=True)
    out = capsys.readouterr().out
    assert "== 02_b (chapter 2 of 3, preset smoke) started" in out
    assert "1 of 3 chapters done; at most about" in out and "2 of 3 chapters done" in out
    assert "3 of 3 chapters done" not in out
    assert runner.eta({"a": 60.0, "b": 600.0}, ["a"], 2) == (
        "; at most about 5 min left (the last cold run's minutes, 2 at a time)"
    )
    assert runner.eta({"a": 60.0, "b": None}, ["a"], 2) == ""  # a chapter never timed: no guess


def test_a_rerun_with_nothing_changed_keeps_the_executed_notebooks(monkeypatch, tmp_path):
    """Make-like: a chapter whose source, parameters, studylib and shared data are unchanged is not executed
    again (a warm rerun of the study is recorded as such); any change, or --force, executes it."""
    import nbformat

    from studylib import profiling, runner
    from studylib.fileio import results_dir

    calls = []

    def fake_run(path, params, env):
        calls.append(path.stem)
        out = Path(env.get("STUDYLIB_EXECUTED", results_dir() / "executed")) / f"{path.stem}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {path.stem}")]), out)
        return out

    folder = tmp_path / "nb"
    folder.mkdir()
    paths = _fake_chapters(folder, "01_a", "02_b")
    monkeypatch.setattr(runner, "run_in_child", fake_run)
    monkeypatch.setattr(runner, "prepare_shared", lambda: None)
    monkeypatch.setattr(runner, "chapters", lambda selection=None: paths)
    runner.run_chapters(preset="smoke", progress=False)
    assert calls == ["01_a", "02_b"]
    html = results_dir() / "smoke" / "html" / "02_b.html"  # each executed chapter also as HTML
    assert "02_b" in html.read_text()
    html.unlink()
    runner.run_chapters(preset="smoke", progress=False)
    assert calls == ["01_a", "02_b"]  # both kept
    assert html.is_file()  # a missing export is made again
    timings = profiling.read_timings("smoke")
    assert "__warm__" in timings and "__wall__" in timings
    assert "nothing changed" in summary.minutes_table(timings)
    profiling.record_summary_seconds("smoke", 12.6)
    assert "rewrote this table, which last took 13 s" in summary.minutes_table(
        profiling.read_timings("smoke")
    )
    paths[1].write_text(paths[1].read_text() + "# an edit\n")
    runner.run_chapters(preset="smoke", progress=False)
    assert calls[2:] == ["02_b"]
    runner.run_chapters(preset="smoke", overrides={"epochs": 2}, progress=False)  # other parameters
    # (which starts first follows the recorded minutes, runner.start_order: only the set is fixed here)
    assert sorted(calls[3:]) == ["01_a", "02_b"]
    runner.run_chapters(preset="smoke", progress=False, force=True)
    assert sorted(calls[5:]) == ["01_a", "02_b"]


def test_the_runner_reports_run_by_run_with_epoch_progress(tmp_path):
    """make study's output: a line when a run starts and when it ends (trained and evaluated, or cached, with
    seconds), and the current run's epoch and step, read from the chapter's profile file; off a terminal the
    progress line comes at most every 30 s."""
    import io
    import json
    import time

    from studylib import profiling, progress

    prof = tmp_path / "p.json"
    now = time.time()
    prof.write_text(
        json.dumps(
            {
                "runs": [{"run": "SL", "phase": "cached", "seconds": 0.0}],
                "current": {
                    "run": "CLIP",
                    "phase": "train",
                    "since": now - 5,
                    "step": 30,
                    "total": 120,
                    "epoch": 0,
                    "epochs": 3,
                },
            }
        )
    )
    stream = io.StringIO()
    out = progress.Reporter(stream)
    with progress.Watcher(out, every=0.02) as watcher:
        watcher.add("02_x", prof)
        time.sleep(0.2)
        prof.write_text(
            json.dumps(
                {
                    "runs": [
                        {"run": "SL", "phase": "cached", "seconds": 0.0},
                        {"run": "CLIP", "phase": "train", "seconds": 12.34},
                        {"run": "CLIP", "phase": "evaluate", "seconds": 0.5},
                    ],
                    "current": None,
                }
            )
        )
        time.sleep(0.2)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "   02   SL: cached"
    assert lines[1] == "   02 ▸ CLIP: training"  # once, not every poll
    assert lines[2] == "   02   CLIP: trained in 12.3 s, evaluated in 0.5 s" and len(lines) == 3
    current = {
        "run": "CLIP",
        "phase": "train",
        "since": now - 5,
        "step": 30,
        "total": 120,
        "epoch": 0,
        "epochs": 3,
    }
    assert (
        progress.progress_line("02_x", current, now)
        == "   02 ▸ CLIP: training · epoch 1/3 · step 30/120 (25%) · 5 s"
    )
    prof.write_text(json.dumps({"runs": [], "current": {**current, "since": now}}))
    later = io.StringIO()
    progress.report_profile(
        "02_x", prof, {}, progress.Reporter(later), quiet_for=0
    )  # off a terminal: every 30 s
    assert later.getvalue().splitlines()[1].startswith("   02 ▸ CLIP: training · epoch 1/3")
    monkey = {}  # the training loop's side: throttled writes
    profiling._state["current"] = {"run": "R", "phase": "train", "since": now}
    try:
        profiling.step(5, 10, 0, 2)
        monkey.update(profiling._state["current"])
    finally:
        profiling._state.pop("current", None)
    assert (monkey["step"], monkey["total"], monkey["epoch"], monkey["epochs"]) == (5, 10, 0, 2)


def test_the_study_index_is_written_beside_the_pages():
    from studylib.cli.main import write_study_index

    path = write_study_index("smoke")
    assert path.name == "index.html" and path.parent.name == "html"
    text = path.read_text()
    assert "03b_dino" in text and "not run" in text and "Minutes on this machine" in text


def test_a_resumed_study_times_the_chapters_that_trained_and_marks_them():
    """After an interruption (the registry already holds runs of the preset), a chapter that trained runs is
    timed and marked resumed; one that only read its runs back is not timed (it would replace real minutes)."""
    from studylib import runner

    entry = {"seconds": 90.0, "trained": 3, "when": "2026-12-03T06:00", "phases": {"train": 80.0}}
    assert runner.timing_entry(entry, cold=True) == entry
    assert runner.timing_entry(entry, cold=False) == {**entry, "resumed": True}
    assert runner.timing_entry({**entry, "trained": 0}, cold=False) is None
    table = summary.minutes_table({"02_b": {**entry, "resumed": True}, "01_a": {**entry, "trained": 5}})
    assert "| 02_b (resumed)" in table and "| 01_a " in table and "may not hold all of its training" in table
    assert "(resumed)" not in summary.minutes_table({"01_a": entry})


def test_runs_of_other_code_do_not_make_a_study_resumed(monkeypatch, tmp_path):
    """A study is timed as cold unless the registry holds runs of the preset made by this code: stale runs
    (another code fingerprint, which no current key names) are never reused, so they must not mark every chapter
    resumed and drop the study's wall time."""
    import json

    from studylib import runner
    from studylib.fingerprint import code_fingerprint

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    run = tmp_path / "runs" / "abc"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    (run / "meta.json").write_text(json.dumps({"preset": "quick", "code": "0" * 16}))
    assert not runner._preset_in_registry("quick")
    (run / "meta.json").write_text(json.dumps({"preset": "quick", "code": code_fingerprint()}))
    assert runner._preset_in_registry("quick") and not runner._preset_in_registry("full")


def test_claim_rows_are_cached_under_the_code_this_process_imported(monkeypatch):
    """The summary cache's key names the code as it was when the chapters were imported: files edited after
    that (the runner's parent keeps the chapter modules it imported at start) do not rename it."""
    import importlib

    import studylib.chapters
    from studylib import fingerprint

    at_import = fingerprint.sources_digest(sorted(fingerprint.PACKAGE.rglob("*.py")), fingerprint.PACKAGES)[
        :16
    ]
    fingerprint.analysis_fingerprint.cache_clear()
    try:
        importlib.reload(studylib.chapters)  # a process importing the chapters
        monkeypatch.setattr(fingerprint, "sources_digest", lambda *a, **k: "e" * 64)  # files edited since
        assert fingerprint.analysis_fingerprint() == at_import
    finally:
        fingerprint.analysis_fingerprint.cache_clear()
