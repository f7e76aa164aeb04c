"""Study: how well does an error map calibrate, on the GDF rho (the potential's own map) or on
the last-layer rigidity (LLPR energy, :mod:`gdfnn.model.rigidity`)?

Each potential's validation atoms (the training file's split: ``--valid-rate``, split seed 0)
fit an isotonic map from the signal to the RMS force-error norm |F_pred - F_ref| (eV/Å,
:func:`gdfnn.gdf.coverage.fit_error_map`; for LLPR on 1 / signal, so that the map is
non-increasing as for rho); on the test atoms, the atoms are sorted by the prediction into
deciles and each decile's predicted RMS is compared with its observed one
(:func:`gdfnn.workflows.uncertainty.calibration`). The SF-rho map is the one ``gdfnn train``
stored in the potential.

    python -m benchmarks.calibration --potential RUN_SEED*/potential.pt --train TRAIN.xyz \\
        --valid-rate 0.1 --test TEST.xyz
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.common import print_table, set_threads
from gdfnn import load_potential
from gdfnn.data import read_structures, split_by_group
from gdfnn.gdf.coverage import fit_error_map
from gdfnn.model.rigidity import fit_rigidity, rigidity_metadata
from gdfnn.workflows.uncertainty import calibration


def features_of(potential, frames: list) -> tuple[torch.Tensor, torch.Tensor]:
    """(raw features ``(N, D)``, element indices ``(N,)``) of every atom of ``frames``."""
    blocks = potential.descriptor.compute_many([s.atoms for s in frames], progress=False)
    return torch.cat([b.values for b in blocks]), torch.cat([b.species for b in blocks])


def force_errors(potential, frames: list) -> np.ndarray:
    preds = potential.predict_many([s.atoms for s in frames])
    return np.concatenate([np.linalg.norm(p["forces"] - s.forces, axis=1)
                           for p, s in zip(preds, frames, strict=True)])


#: A decile whose observed RMS error is below this (eV/Å) holds atoms whose forces vanish by
#: symmetry (perfect-crystal frames): any prediction deviates from it without bound.
ZERO_ERROR = 1e-3


def deviations(result: dict) -> tuple[float, float]:
    """(largest |predicted / observed - 1| over the deciles, the same over the deciles whose
    observed error is at least :data:`ZERO_ERROR`)."""
    finite = [abs(d) for d, o in zip(result["deviation"], result["observed_rms"], strict=True)
              if o >= ZERO_ERROR]
    return result["max_deviation"], max(finite)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--potential", nargs="+", required=True)
    parser.add_argument("--train", required=True, help="the training file of the potentials")
    parser.add_argument("--valid-rate", type=float, required=True)
    parser.add_argument("--test", required=True)
    args = parser.parse_args()
    set_threads(2)
    frames = read_structures(args.train)
    split = split_by_group(frames, args.valid_rate, 0.0, 0)
    train, valid = [frames[k] for k in split.train], [frames[k] for k in split.valid]
    test = read_structures(args.test)
    rows = []
    for path in args.potential:
        pot = load_potential(path)
        values, species = features_of(pot, train)
        with torch.no_grad():
            inputs = pot.network_inputs(values, species)
        # what gdfnn train records (potentials trained before it have no record)
        pot.metadata["rigidity"] = rigidity_metadata(fit_rigidity(pot.networks,
                                                                  [(inputs, species)]))
        error_map = fit_error_map(1.0 / pot.rigidity(*features_of(pot, valid)),
                                  force_errors(pot, valid))
        observed = force_errors(pot, test)
        values, species = features_of(pot, test)
        by_llpr = calibration(error_map(1.0 / pot.rigidity(values, species)), observed)
        by_rho = calibration(pot.force_error(pot.coverage(values, species)[0], species),
                             observed)
        for name, result in (("SF rho", by_rho), ("LLPR energy", by_llpr)):
            worst, nonzero = deviations(result)
            rows.append([path, name, f"{100 * worst:.0f} %", f"{100 * nonzero:.0f} %",
                         ", ".join(f"{p:.3f}/{o:.3f}" for p, o in zip(
                             result["predicted_rms"], result["observed_rms"], strict=True))])
    print_table(["potential", "map on", "largest decile deviation",
                 "without zero-error deciles (< 1 meV/Å)", "predicted/observed RMS |dF| per decile (eV/Å)"],
                rows)


if __name__ == "__main__":
    main()
