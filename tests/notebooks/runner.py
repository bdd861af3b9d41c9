"""Execute a notebook the way an analyst's Jupyter would, on this interpreter, with TENANT_ID injected.

The kernel is this process's Python (the project's .venv), declared through a kernel spec in a
temporary directory, so no kernel has to be registered on the machine (a clean clone running
`make test` has none). The tenant goes in as a cell inserted after the one tagged `parameters`, as
papermill does, and the kernel inherits this process's environment (CRM_HOME in particular).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "crm-test-python"


@dataclass
class Executed:
    notebook: nbformat.NotebookNode
    seconds: float

    def outputs(self) -> list[dict]:
        return [o for c in self.notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]

    def text(self) -> str:
        parts = []
        for o in self.outputs():
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif "data" in o:
                parts.append(o["data"].get("text/plain", ""))
        return "\n".join(parts)

    def images(self) -> int:
        return sum(1 for o in self.outputs() if "image/png" in o.get("data", {}))


def inject_parameters(nb: nbformat.NotebookNode, **params) -> nbformat.NotebookNode:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise AssertionError(f"expected exactly one cell tagged 'parameters', found {len(tagged)}")
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)
    return nb


def _manager_class(spec_dir: Path) -> type[AsyncKernelManager]:
    """A kernel manager class that finds only our kernel spec; nbclient then owns (and cleans up) the
    manager, its client channels and the kernel, so no stale channel outlives a run."""
    kernel_dir = spec_dir / KERNEL
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "CRM (.venv)", "language": "python"}))

    class VenvKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            specs = KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False)
            super().__init__(kernel_spec_manager=specs, **kwargs)

    return VenvKernelManager


def execute(name: str, timeout: int = 300, **params) -> Executed:
    """Run notebooks/<name> top to bottom; nbclient raises CellExecutionError on the first failing cell."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    inject_parameters(nb, **params)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crm-kernels-") as spec_dir:
        client = NotebookClient(nb, kernel_name=KERNEL, kernel_manager_class=_manager_class(Path(spec_dir)),
                                timeout=timeout, shutdown_kernel="immediate",
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    return Executed(nb, time.perf_counter() - started)
