"""Benchmark: the speed column of the accuracy frontier (docs/accuracy.md).

``pair_style gdfnn`` (1 rank, double precision, 4,096-atom diamond Si rattled 0.05 Å, NVE,
600 K) for each potential given, alternated with the reference (the published mlearn n2p2 Si
potential as gdfnn imports it: 27 functions, 24-24, the potential n2p2's own
``pair_style hdnnp`` ran at 10.4-10.8k atom-steps/s on these 2-core machines, measured side
by side with the plugin) in paired runs; the figure is atom-steps/s per core and
the ratio to the reference measured in the same run.

    python -m benchmarks.frontier LABEL=potential.pt [LABEL=potential.pt ...] [--pairs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, set_threads
from benchmarks.lammps import cell, paired_rates
from gdfnn import load_potential
from gdfnn.export.lammps import gdfnn_lines, write_lammps_potential
from gdfnn.workflows.lammps import build_plugin, write_data

STEPS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("potentials", nargs="+", metavar="LABEL=PATH")
    parser.add_argument("--pairs", type=int, default=3, help="paired runs per potential")
    args = parser.parse_args()
    set_threads(1)
    plugin = build_plugin()
    named = dict(item.split("=", 1) for item in args.potentials)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_data(cell(8), ["Si"], work / "si4096.lammps")

        def pair_lines(pot, name: str) -> list[str]:
            write_lammps_potential(pot, work / f"{name}.gdfnn")
            return gdfnn_lines(str(work / f"{name}.gdfnn"), str(plugin), ["Si"],
                               "double").splitlines()

        reference = pair_lines(load_potential("dataset:mlearn-n2p2-si", length_unit="bohr",
                                              energy_unit="hartree"), "reference")
        rows = []
        for n, (label, path) in enumerate(named.items()):
            pot = load_potential(path)
            lines = pair_lines(pot, f"p{n}")
            theirs, ours = paired_rates(work, reference, lines, data, STEPS, args.pairs)
            rows.append([label, pot.descriptor.width,
                         "-".join(str(w) for w in pot.networks.hidden), f"{np.median(ours):,.0f}",
                         f"{np.median(theirs):,.0f}",
                         f"{np.median(np.array(ours) / np.array(theirs)):.2f}"])
    print(f"pair_style gdfnn, double, 1 rank, 4,096 atoms, {args.pairs} paired runs of {STEPS} "
          "steps (medians):")
    print_table(["potential", "functions", "hidden", "atom-steps/s", "reference atom-steps/s",
                 "ratio"], rows)


if __name__ == "__main__":
    main()
