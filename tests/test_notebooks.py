"""The notebooks in notebooks/ run end to end on the bundled data and draw their figures.

Each notebook is a jupytext percent-format ``.py`` file.  It is converted to a notebook and
executed with nbclient in a kernel that runs this interpreter (a kernelspec written to a
temporary directory, so nothing is installed into the user's Jupyter), with a temporary
directory as working directory and no network needed.  A notebook passes when no cell
raises and at least one cell shows a plotly figure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nbclient.exceptions import CellExecutionError  # noqa: E402

from tests._paths import REPO  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
KERNEL = "tracker-notebook-test"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
CELL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data directory holding one kernelspec that runs this Python."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tracker (test)",
        "language": "python",
    }), encoding="utf-8")
    return root


def _figure_outputs(nb: object) -> list[str]:
    """The mimetypes of outputs that carry a plotly figure."""
    found = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                found.append(PLOTLY_MIME)
            elif "plotly" in str(data.get("text/html", "")).lower():
                found.append("text/html")
    return found


def test_there_are_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert {"01_organisation_audit.py", "02_roster_screening.py",
            "03_when_a_list_changes.py", "04_data_gaps.py"} <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_draws(path: Path, kernel_dir: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    # No network: a notebook that tried to reach OpenAlex would fail on this address.
    monkeypatch.setenv("TRACKER_OPENALEX_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as exc:  # show the failing cell's traceback, not nbclient's
        pytest.fail(f"{path.name}: a cell raised:\n{exc}", pytrace=False)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells), \
        f"{path.name}: not every code cell ran"
    assert _figure_outputs(nb), f"{path.name}: no plotly figure was rendered"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_the_safeguards(path: Path) -> None:
    """Each story says a flag is evidence for review and that no findings is not clearance."""
    nb = jupytext.read(path)
    prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    prose = re.sub(r"[\s#*_]+", " ", prose)
    assert "evidence for review" in prose and "not a determination" in prose, path.name
    assert "not clearance" in prose, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_only_public_api(path: Path) -> None:
    """Notebooks show users what to do, so they use no private (underscore) tracker names."""
    code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
    private = re.findall(r"\btracker(?:\.\w+)*\._\w+|from tracker[\w.]* import [^\n]*\b_\w+",
                         code)
    assert not private, f"{path.name} uses private names: {private}"
