"""``import gdfnn`` has no side effects: no pyplot, no backend switch, no warning filters, no
thread settings; the public names load on first use."""

import subprocess
import sys

PROBE = """
import sys, warnings
import matplotlib, torch
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # get_backend() imports pyplot
filters, threads = list(warnings.filters), torch.get_num_threads()
import gdfnn
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert "gdfnn.workflows.train" not in sys.modules, "import is not lazy"
assert dict.__getitem__(matplotlib.rcParams, "backend") == backend, "backend changed"
assert warnings.filters == filters, "warning filters changed"
assert torch.get_num_threads() == threads, "threads changed"
assert callable(gdfnn.train) and gdfnn.Potential.__name__ == "Potential"
assert gdfnn.load_potential and gdfnn.NNPCalculator and gdfnn.gdf.density
assert gdfnn.datasets.path("mlearn-si", "test").is_file()  # as the README uses it
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported by a public name"
print("ok")
"""


def test_import_has_no_side_effects():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
