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


def export_html(notebook: str | Path, out: str | Path) -> Path:
    """Write ``notebook`` (an executed ``.ipynb``) as self-contained HTML at ``out``; returns ``out``."""
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
    body, _ = exporter.from_notebook_node(nb)
    body = WIDGET_LOADER.sub("", REMOTE_SCRIPT.sub("", body))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, body)
    return out
