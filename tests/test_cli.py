import subprocess
import sys

from studylib.cli.main import main
from studylib.pipeline import run
from studylib.spec import RunSpec


def test_results_csv_lists_runs(capsys, tiny_params):
    r = run(
        RunSpec({**tiny_params, "objective": "sl"}, chapter="02_imbalance", label="SL", preset="smoke"),
        progress=False,
    )
    assert main(["results", "--csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0]
        == "run_id,when,chapter,label,current,objective,preset,seed,zipf_alpha,n_train,caption,vocab_k,top1"
    )
    key, when, rest = out[1].split(",", 2)
    assert key == r.key and len(when) == 16 and rest.startswith("02_imbalance,SL,True,sl,smoke,0,")


def test_results_for_people_where_columns_and_show(capsys, tiny_params):
    sl = run(
        RunSpec(
            {**tiny_params, "objective": "sl"}, chapter="02_imbalance", label="SL " + "x" * 80, preset="smoke"
        ),
        progress=False,
    )
    vk = run(
        RunSpec(
            {**tiny_params, "objective": "sl", "vocab_k": 4, "zipf_alpha": 1.5},
            chapter="02b_language",
            label="SL + vocab 4",
            preset="smoke",
        ),
        progress=False,
    )
    assert main(["results"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0].startswith("same in every row: ") and "preset smoke" in lines[0]
    )  # shared values stated once
    head = lines[1].split()
    assert head[:3] == ["id", "when", "ch"] and "zipf" in head and "vocab" in head and head[-1] == "label"
    assert max(len(x) for x in lines) <= 80 and any(
        "…x" in x for x in lines
    )  # the long label loses its middle
    assert main(["results", "--width", "120"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 80 < max(len(x) for x in lines) <= 120
    assert main(["results", "--wide"]) == 0
    assert any(x.endswith("SL " + "x" * 80) for x in capsys.readouterr().out.splitlines())  # whole
    assert main(["results", "--width", "10"]) == 2 and "--width" in capsys.readouterr().err
    assert main(["results", "--where", "chapter=02b", "--where", "vocab_k=4"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and rows[1].startswith(vk.key[:8]) and rows[1].endswith("SL + vocab 4")
    assert main(["results", "--where", "zipf_alpha=1.5", "--columns", "top1,epochs"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["id", "top1", "epochs"] and rows[1].startswith(vk.key[:8]) and len(rows) == 2
    assert main(["results", "--columns", "topp1"]) == 2
    assert "unknown column 'topp1' (did you mean 'top1'?)" in capsys.readouterr().err
    assert main(["results", "--where", "seed"]) == 2 and "KEY=VALUE" in capsys.readouterr().err
    assert main(["results", "--where", "chapter=99"]) == 0 and "no runs match" in capsys.readouterr().out
    assert main(["show", sl.key[:10]]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"run {sl.key}") and "train.objective = sl" in text and "top1 = " in text
    assert "metrics.json" in text and "configuration:" in text
    assert main(["show", "zzzz"]) == 1 and "no run" in capsys.readouterr().err
    assert main(["diff", sl.key[:8], vk.key[:8]]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"a: {sl.key}  {sl.meta['label']}" and text[1] == f"b: {vk.key}  SL + vocab 4"
    rows = {line.split()[0]: line.split()[1:] for line in text[4:]}
    assert rows["objective.vocab_k"] == ["0", "4"] and rows["world.zipf_alpha"][1] == "1.500"
    assert "train.objective" not in rows  # equal values are left out
    assert main(["diff", sl.key[:8], sl.key[:8]]) == 0 and "are equal" in capsys.readouterr().out
    assert main(["diff", sl.key[:8], "zzzz"]) == 1 and "no run" in capsys.readouterr().err


def test_results_marks_runs_of_older_code(capsys, tiny_params, monkeypatch):
    import studylib.fingerprint

    r = run(
        RunSpec({**tiny_params, "objective": "sl"}, chapter="02_imbalance", label="SL", preset="smoke"),
        progress=False,
    )
    monkeypatch.setattr(studylib.fingerprint, "code_fingerprint", lambda: "other code")
    assert main(["results"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith(r.key[:8] + "*") and lines[-1].startswith("* made by older code")


def test_run_rejects_unknown_chapter_and_preset(capsys):
    assert main(["run", "99"]) == 1
    assert "no chapter matches '99'" in capsys.readouterr().err
    assert main(["run", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err


def test_train_on_the_concept_world_from_the_cli(capsys):
    args = [
        "train",
        "--preset",
        "smoke",
        "-q",
        "-p",
        "objective=sl",
        "-p",
        "n_classes=8",
        "-p",
        "n_train=256",
        "-p",
        "test_per_class=2",
        "-p",
        "batch_size=32",
    ]
    assert main(args) == 0
    assert "top-1 photo" in capsys.readouterr().out
    assert main(["train", "--preset", "smoke", "-p", "arch=RN50"]) == 1
    assert "parameter 'arch'='RN50' is for real data" in capsys.readouterr().err


def test_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "studylib", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "run" in res.stdout and "results" in res.stdout


def test_results_csv_into_a_closed_pipe_is_quiet(tmp_path):
    """`studylib results --csv | head`: the reader has gone when the table is written; no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "studylib", "results", "--csv", "--root", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # before the child (still importing) writes anything
    err = proc.stderr.read()
    assert proc.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err
