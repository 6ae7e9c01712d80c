"""Executed chapters as self-contained static HTML, for reading in any browser without a kernel.

Why: a reader without JupyterLab (or without the study's environment) should still see every
chapter with its figures. ``export_html`` turns an executed notebook into one HTML file with
the PNG figures inline, plotly figures rendered by plotly.js embedded once in the page (no
network), and a note where a live widget stood (widgets need a kernel). No script or style
is fetched from the network: the page's MathJax reference and the template's loader of the widget
renderer are dropped (mermaid is only fetched for mermaid diagrams, which the chapters do not have).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from studylib.fileio import atomic_write_text

PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "<p><em>An interactive explorer stood here: open the chapter in JupyterLab "
    "(<code>make lab</code>) to use it.</em></p>"
)
REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.I)
# the template's loader of the widget renderer from unpkg (there is no widget state to render)
WIDGET_LOADER = re.compile(
    r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer\(\).*?</script>", re.S
)


def _static_outputs(nb) -> int:
    """Give plotly and widget outputs an HTML form; plotly.js goes inline in the first figure only."""
    import plotly.io as pio

    first, n = True, 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY in data and "text/html" not in data:
                fig = pio.from_json(json.dumps(data[PLOTLY]), skip_invalid=True)
                data["text/html"] = pio.to_html(
                    fig, include_plotlyjs=first, full_html=False, config={"responsive": True}
                )
                first, n = False, n + 1
            elif WIDGET in data:  # no widget state is saved: say what to do instead
                out["data"] = {"text/html": WIDGET_NOTE}
    return n


# A "show code" switch at the top of every page (the page opens with code shown; `?code=hide` opens it hidden):
# Jupyter Book's remove-input, as a reader's choice, with no script fetched from anywhere.
CODE_SWITCH = """<style>body.hide-code .jp-CodeCell .jp-Cell-inputWrapper{display:none}
#studylib-code-switch{position:sticky;top:0;z-index:10;background:#fff;padding:4px 12px;font:13px sans-serif;
border-bottom:1px solid #ddd}</style>
<div id="studylib-code-switch"><a href="index.html">all chapters and claims</a> &middot;
<label><input type="checkbox" id="studylib-show-code" checked> show code</label></div>
<script>(function(){var b=document.getElementById('studylib-show-code');
function set(show){b.checked=show;document.body.classList.toggle('hide-code',!show);}
b.addEventListener('change',function(){set(b.checked);});
if(new URLSearchParams(location.search).get('code')==='hide'){set(false);}})();</script>
"""


def page_title(nb) -> str:
    """A chapter's title: the first Markdown heading of its notebook (else "Notebook")."""
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            for line in cell.get("source", "").splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "Notebook"


def export_html(notebook: str | Path, out: str | Path) -> Path:
    """Write ``notebook`` (an executed ``.ipynb``) as self-contained HTML at ``out``, titled by its first
    heading, with a "show code" switch and a link to the index; returns ``out``."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook, out = Path(notebook), Path(out)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError) as err:
        raise ValueError(f"{notebook}: not a readable notebook ({err})") from None
    _static_outputs(nb)
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    exporter.mathjax_url = ""
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": page_title(nb)}})
    body = WIDGET_LOADER.sub("", REMOTE_SCRIPT.sub("", body))
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + CODE_SWITCH, body, count=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, body)
    return out


def claim_link(page: str, claim: str) -> str:
    """A link to ``claim``'s verdict in ``page``: a text fragment (``#:~:text=``) that browsers scroll to."""
    from urllib.parse import quote

    return f"{page}#:~:text=" + quote(claim, safe="").replace("-", "%2D")


def write_index(html_dir: str | Path, table, preset: str, minutes: str = "") -> Path:
    """``index.html`` beside the chapter pages: a table of contents (each page's title), the claims table,
    every claim linking to its verdict in its chapter's page, and ``minutes`` (Markdown: this machine's minutes
    per chapter). ``table``: the claims, one row each (``chapter, claim, quantity, result, verdict``)."""
    import html as h

    import mistune  # nbconvert's Markdown renderer

    html_dir = Path(html_dir)
    pages = sorted(p for p in html_dir.glob("[0-9][0-9]*.html"))
    titles = {}
    for p in pages:
        m = re.search(r"<title>(.*?)</title>", p.read_text(encoding="utf-8", errors="replace"), re.S)
        titles[p.stem] = h.unescape(m.group(1).strip()) if m else p.stem
    toc = "\n".join(f'<li><a href="{p.name}">{h.escape(titles[p.stem])}</a></li>' for p in pages)
    rows = []
    for r in table.itertuples():
        page = f"{r.chapter}.html"
        claim = h.escape(r.claim)
        if (html_dir / page).is_file():
            claim = f'<a href="{h.escape(claim_link(page, r.claim))}">{claim}</a>'
        rows.append(
            f"<tr><td>{h.escape(r.chapter)}</td><td>{claim}</td><td>{h.escape(r.quantity)}</td>"
            f"<td>{h.escape(r.result)}</td><td><b>{h.escape(r.verdict)}</b></td></tr>"
        )
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>studylib: the study at preset {h.escape(preset)}</title>
<style>body{{font:14px/1.45 sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top}}
th{{background:#f3f3f3}}</style></head>
<body><h1>CLIP's robustness to long-tailed pre-training data: the study at preset <code>{h.escape(preset)}</code></h1>
<h2>Chapters</h2><ol>{toc}</ol>
<p>Add <code>?code=hide</code> to a chapter's address to read it without its code.</p>
<h2>Claims and computed verdicts</h2>
<p>Each claim links to its verdict in its chapter's page.</p>
<table><tr><th>chapter</th><th>claim</th><th>quantity</th><th>result</th><th>verdict</th></tr>
{chr(10).join(rows)}
</table>
{"<h2>Minutes on this machine</h2>" + mistune.html(minutes) if minutes else ""}
</body></html>
"""
    out = html_dir / "index.html"
    atomic_write_text(out, text)
    return out
