"""Chapter 2 in a real browser: JupyterLab driven by Python Playwright on Debian's Chromium (the last step of
`make test`, or `make test-browser` alone; CI installs chromium first, `.ci/run`).

`tests/conftest.py` collects `tests/browser` only when it is named on the command line, so it runs as a pytest
process of its own after the other tests. It never downloads a browser: it drives the system Chromium
(``STUDYLIB_CHROMIUM``, default ``/usr/lib/chromium/chromium``) and skips when that is absent.

The tests are the steps of one session, in file order, on one JupyterLab server and one page; a step whose
predecessor failed is skipped. A failing step leaves a screenshot of each open page in its pytest tmp folder and
names it, with the server's log, in its report.

1. Lab opens; a double-click on ``02_imbalance.py`` in the file browser opens it as a notebook (cells, no editor),
   and once its kernel is idle the tab is not marked unsaved (the chapter opens unmodified).
2. Run > Run All Cells: every code cell executes; no error output, no traceback on stderr. Lab runs as a user
   does, with no figure or card folder in its environment, so the chapter at preset smoke writes its figures
   under ``results/smoke/`` (studylib.outputs) and the repository's ``figures/`` and ``data_cards/`` are
   unchanged, file for file.
3. Each control of the explorer (the chapter's last cell) changes the plotly plot below it.
4. The exported interactive HTML figure renders with plotly, from the file alone (no network).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("STUDYLIB_CHROMIUM", "/usr/lib/chromium/chromium"))
try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False

# Every test of the module skips, with the reason, rather than failing (and collected and skipped, not left out:
# a run that collects nothing exits with 5).
pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
        reason=f"no Chromium at {CHROMIUM}: the browser test drives Debian's chromium "
        "(apt-get install chromium) and never downloads a browser",
    ),
    pytest.mark.skipif(
        not HAVE_PLAYWRIGHT,
        reason="Python Playwright is not installed: run `make test-browser`, which installs it into the venv",
    ),
]

REPO = Path(__file__).resolve().parents[2]
CHAPTER = "02_imbalance.py"
FIGURE = "02_imbalance__predictions_vs_frequency_interactive.html"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
RUN_ALL_TIMEOUT_MS = 6 * 60 * 1000  # Run All at preset smoke takes about a minute on 2 cores
REDRAW_TIMEOUT_MS = 60 * 1000  # one explorer redraw: well under a second
ERROR_MIME = "application/vnd.jupyter.error"
STDERR_MIME = "application/vnd.jupyter.stderr"

DONE: set[str] = set()  # the steps that passed


def after(step: str) -> None:
    if step not in DONE:
        pytest.skip(f"an earlier step ({step}) did not pass")


@dataclass
class Lab:
    url: str
    token: str = field(repr=False)
    root: Path
    figures: Path  # where the output rule puts the smoke chapter's figures
    log: Path
    n_cells: int
    n_code: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else "(no log)"


def _api(base: str, token: str, path: str, method: str = "GET", timeout: float = 5):
    req = urllib.request.Request(base + path, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port with a random token, rooted at a copy of `notebooks/`; stopped afterwards."""
    import jupytext

    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    shutil.copytree(
        REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    )
    chapter = root / CHAPTER
    # The copy runs at preset smoke, so that Run All Cells takes about a minute (quick takes many); the chapter is
    # otherwise unchanged. Its jupytext.toml comes along.
    text, n = re.subn(
        r'^preset: str = "\w+"', 'preset: str = "smoke"', chapter.read_text(), count=1, flags=re.M
    )
    assert n == 1, f"{CHAPTER} has no `preset: str = ...` line in its parameters cell"
    chapter.write_text(text)
    cells = jupytext.read(chapter).cells

    # Lab's own state in the temporary folder: no user settings or workspace of this machine's user, and no
    # "Jupyter news?" toast over the page. The venv's overrides.json (Jupytext Notebook as the default viewer of
    # Python files, written by `make setup`) still applies: it is what the double-click tests.
    config, outputs = tmp / "jupyter-config", tmp / "outputs"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # As a user's Lab: no STUDYLIB_BATCH (the explorer is live) and no figure or card folder (the chapter's
    # Session applies the output rule); only the results folder is a temporary one.
    unset = ("STUDYLIB_BATCH", "STUDYLIB_FIGURES", "STUDYLIB_CARDS", "STUDYLIB_EXECUTED")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        STUDYLIB_RESULTS=str(outputs / "results"),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        # the kernel imports this checkout's studylib
        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={config / 'lab' / 'user-settings'}",
        f"--LabApp.workspaces_dir={config / 'lab' / 'workspaces'}",
        *(["--allow-root"] if AS_ROOT else []),
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_tail(log_path)}")
                try:
                    if _api(base, token, "/api/status") == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer on {base} within 180 s:\n{_tail(log_path)}")
                time.sleep(0.5)
            yield Lab(
                base,
                token,
                root,
                outputs / "results" / "smoke" / "figures",
                log_path,
                len(cells),
                sum(c.cell_type == "code" for c in cells),
            )
        finally:
            try:
                _api(base, token, "/api/shutdown", method="POST")  # stops the kernels too
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"] if AS_ROOT else []
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, lab, page, tmp_path):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    for i, p in enumerate(page.context.pages):
        shot = tmp_path / f"failure-{i}.png"
        try:
            p.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of {p.url.split('?')[0]}: {shot}", file=sys.stderr)
        except PlaywrightError as e:
            print(f"no screenshot of {p.url}: {e}", file=sys.stderr)
    print(f"JupyterLab's log: {lab.log}", file=sys.stderr)


def test_chapter_2_opens_as_a_notebook_on_double_click(lab, page):
    page.goto(f"{lab.url}/lab?token={lab.token}")
    item = page.locator("#filebrowser .jp-DirListing-item").filter(
        has=page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(CHAPTER)}$"))
    )
    item.wait_for(timeout=180_000)  # Lab's first load
    item.dblclick()
    panel = page.locator(".jp-NotebookPanel")
    expect(panel).to_be_visible()
    expect(page.locator(".lm-DockPanel-tabBar .lm-mod-current .lm-TabBar-tabLabel")).to_have_text(CHAPTER)
    expect(panel.locator(".jp-Cell")).to_have_count(lab.n_cells)
    expect(panel.locator(".jp-CodeCell")).to_have_count(lab.n_code)
    expect(page.locator(".jp-FileEditor")).to_have_count(0)  # not opened as a text file
    # the kernel named in the chapter's header ("Python 3") has started
    expect(page.locator("#jp-main-statusbar")).to_contain_text(
        re.compile(r"Python 3 \| Idle"), timeout=120_000
    )
    time.sleep(2.0)  # the kernel's info reply has reached the model (Lab writes language_info from it)
    tab = page.locator(".lm-DockPanel-tabBar .lm-mod-current")
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), (
        f"{CHAPTER} opened marked unsaved: Lab changed the notebook before anyone edited it"
    )
    DONE.add("open")


# True once every code cell has an execution count and the kernel is idle, or as soon as an error shows.
# textContent, not innerText: Lab skips rendering cells out of view (content-visibility), not their DOM.
FINISHED = f"""panel => {{
    if (panel.querySelector('[data-mime-type="{ERROR_MIME}"]')) return "error";
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
    const status = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    return status === "idle" && prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p)) ? "done" : false;
}}"""


def _listing(*folders: Path) -> dict:
    """path -> (size, mtime_ns) of every file under ``folders``."""
    return {
        str(f): (f.stat().st_size, f.stat().st_mtime_ns) for d in folders for f in d.rglob("*") if f.is_file()
    }


PUBLISHED = (REPO / "figures", REPO / "data_cards")


def test_run_all_cells_gives_no_error(lab, page):
    after("open")
    published_before = _listing(*PUBLISHED)
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    panel = page.locator(".jp-NotebookPanel")
    page.wait_for_function(FINISHED, arg=panel.element_handle(), timeout=RUN_ALL_TIMEOUT_MS, polling=1000)
    errors = panel.locator(f'[data-mime-type="{ERROR_MIME}"]').all_text_contents()
    assert not errors, "error output:\n" + "\n---\n".join(errors)
    prompts = [p.strip() for p in panel.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()]
    assert len(prompts) == lab.n_code and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), (
        f"not every code cell ran: {prompts}"
    )
    tracebacks = [
        s for s in panel.locator(f'[data-mime-type="{STDERR_MIME}"]').all_text_contents() if "Traceback" in s
    ]
    assert not tracebacks, "traceback on stderr:\n" + "\n---\n".join(tracebacks)
    changed = sorted(set(_listing(*PUBLISHED).items()) ^ set(published_before.items()))
    assert not changed, f"a chapter run in Lab at preset smoke changed the published outputs: {changed[:5]}"
    assert any(lab.figures.glob("02_imbalance__*.png")), (
        f"no figure where the output rule puts them: {lab.figures}"
    )
    DONE.add("run")


# The explorer's plot, summarised: title, trace names, and a signature of everything drawn (trace data as plotly.js
# holds it, typed arrays as lists); null while the Output widget is between two figures.
PLOT = """root => {
    const el = root.querySelector('.widget-output .js-plotly-plot');
    if (!el || !el.data || !el.layout || !el.querySelector('.main-svg')) return null;
    const plain = (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v);
    const title = el.layout.title && (el.layout.title.text ?? el.layout.title);
    return {title: String(title), names: el.data.map(t => t.name),
            signature: JSON.stringify({title, data: el.data}, plain)};
}"""


def _explorer(page):
    return page.locator(".jp-NotebookPanel .jp-CodeCell").last.locator(".widget-vbox").first


def _control(explorer, label: str):
    return explorer.locator(".widget-inline-hbox, .widget-toggle-buttons").filter(
        has=explorer.page.locator("label.widget-label", has_text=re.compile(rf"^{re.escape(label)}$"))
    )


def _plot(explorer, before: str | None = None, expectation: str = "f => true") -> dict:
    """The explorer's plot once it is drawn, differs from ``before`` (a signature) and meets ``expectation``."""
    js = f"""root => {{ const f = ({PLOT})(root);
        return f !== null && f.signature !== {json.dumps(before)} && ({expectation})(f) ? f : false; }}"""
    try:
        return explorer.page.wait_for_function(
            js, arg=explorer.element_handle(), timeout=REDRAW_TIMEOUT_MS
        ).json_value()
    except PlaywrightTimeout:
        now = explorer.evaluate(PLOT)
        state = (
            "no plot"
            if now is None
            else (
                f"unchanged: {now['title']!r}, traces {now['names']}"
                if now["signature"] == before
                else f"changed, but not as expected ({expectation}): {now['title']!r}, traces {now['names']}"
            )
        )
        pytest.fail(
            f"the explorer's plot did not change as expected within {REDRAW_TIMEOUT_MS // 1000} s: {state}"
        )


def _other_option(select, *avoid: str) -> str:
    return next(
        o for o in select.locator("option").all_text_contents() if o.replace("\xa0", " ") not in avoid
    ).replace("\xa0", " ")


def _change_model(explorer):
    select = _control(explorer, "model").locator("select")
    compare = _control(explorer, "compare with").locator("select").input_value()
    name = _other_option(select, select.input_value(), compare)
    select.select_option(label=name)
    return f"f => f.names[0] === {json.dumps(name)} && f.title.includes({json.dumps(name + ' vs ')})"


def _change_compare(explorer):
    _control(explorer, "compare with").locator("select").select_option(label="(none)")
    return "f => !f.title.includes(' vs ')"


def _change_metric(explorer):
    _control(explorer, "metric").locator("select").select_option(label="accuracy")
    return "f => f.title.includes('accuracy') && !f.title.includes('#predictions')"


def _change_bins(explorer):
    slider = _control(explorer, "bins")
    before = int(slider.locator(".widget-readout").text_content())
    slider.locator(".noUi-handle").press("ArrowRight")  # the keyboard moves the slider one step
    expect(slider.locator(".widget-readout")).to_have_text(str(before + 1))
    return "f => f.names.some(n => /^mean in \\d+ log bins$/.test(n))"


def _change_scheme(explorer):
    _control(explorer, "binning").locator("button", has_text=re.compile(r"^quantile$")).click()
    return "f => f.names.some(n => /^mean in \\d+ quantile bins$/.test(n))"


def _change_search(explorer):
    _control(explorer, "class").locator("input").press_sequentially("shark")  # typed, a key at a time
    expect(explorer.locator(".widget-html-content")).to_have_text(re.compile(r"^[1-9]\d* matching classes$"))
    return "f => f.names.includes(\"classes matching 'shark'\")"


CONTROLS = {
    "model": _change_model,
    "compare": _change_compare,
    "metric": _change_metric,
    "bins": _change_bins,
    "scheme": _change_scheme,
    "search": _change_search,
}


@pytest.mark.parametrize("control", CONTROLS)
def test_each_explorer_control_changes_the_plot(page, control):
    after("run")
    explorer = _explorer(page)
    explorer.scroll_into_view_if_needed()
    before = _plot(explorer)
    expectation = CONTROLS[control](explorer)
    after_change = _plot(explorer, before["signature"], expectation)
    assert after_change["signature"] != before["signature"]


def test_exported_html_figure_renders_with_plotly(lab, page):
    after("run")
    html = lab.figures / FIGURE
    assert html.is_file(), f"chapter 2 did not export {FIGURE} into {lab.figures}"
    figure = page.context.new_page()
    requests, errors = [], []
    figure.on("request", lambda r: requests.append(r.url))
    figure.on("pageerror", lambda e: errors.append(str(e)))
    figure.goto(html.as_uri())
    expect(figure.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    drawn = figure.evaluate("""() => { const el = document.querySelector('.js-plotly-plot');
        return {data: el.data.length, traces: el.querySelectorAll('.scatterlayer .trace').length}; }""")
    assert drawn["data"] >= 1 and drawn["traces"] >= 1, f"plotly drew no trace: {drawn}"
    assert not errors, f"JavaScript errors in {FIGURE}: {errors}"
    remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not remote, f"{FIGURE} is not self-contained, it requested {remote}"
    figure.close()
