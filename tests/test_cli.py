import subprocess
import sys

from studylib.cli.main import main
from studylib.pipeline import run
from studylib.spec import RunSpec


def test_results_csv_lists_runs(capsys, tiny_params):
    r = run(RunSpec({**tiny_params, "objective": "sl"}, chapter="02_imbalance", label="SL", preset="smoke"),
            progress=False)
    assert main(["results", "--csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "run_id,when,chapter,label,objective,preset,seed,current,top1,spearman_acc,spearman_pred"
    key, when, rest = out[1].split(",", 2)
    assert key == r.key and len(when) == 16 and rest.startswith("02_imbalance,SL,sl,smoke,0,True,")
    assert main(["results", "--param", "epochs", "--param", "zipf_alpha"]) == 0      # config values as columns
    text = capsys.readouterr().out
    head, row = text.splitlines()[:2]
    assert "epochs" in head and "zipf_alpha" in head and row.startswith(r.key[:8]) and len(head) <= 130


def test_run_rejects_unknown_chapter_and_preset(capsys):
    assert main(["run", "99"]) == 1
    assert "no chapter matches '99'" in capsys.readouterr().err
    assert main(["run", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err


def test_train_on_the_concept_world_from_the_cli(capsys):
    args = ["train", "--preset", "smoke", "-q", "-p", "objective=sl", "-p", "n_classes=8", "-p", "n_train=256",
            "-p", "test_per_class=2", "-p", "batch_size=32"]
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

    proc = subprocess.Popen([sys.executable, "-m", "studylib", "results", "--csv", "--root", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()                                   # before the child (still importing) writes anything
    err = proc.stderr.read()
    assert proc.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err
