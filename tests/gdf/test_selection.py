"""Greedy selection and pruning by GDF coverage, against recomputing rho from scratch."""

import numpy as np
import torch

from gdfnn.gdf import density
from gdfnn.gdf.selection import FrameDensities, prune_frames, select_frames

SIGMA = {"A": 0.3, "B": 0.5}


def pool(n_frames=12, seed=0):
    """Two elements, 3 A and 2 B atoms per frame, features in 4-D and 3-D; frames 0-5 near
    one point (redundant), the others spread out."""
    rng = np.random.default_rng(seed)
    spread = np.where(np.arange(n_frames) < 6, 0.05, 0.6)
    features, frame_of, atom_of = {}, {}, {}
    for e, (n, d) in {"A": (3, 4), "B": (2, 3)}.items():
        frame_of[e] = np.repeat(np.arange(n_frames), n)
        atom_of[e] = np.tile(np.arange(n) if e == "A" else np.arange(3, 3 + n), n_frames)
        features[e] = torch.from_numpy(rng.normal(0, 1, (n * n_frames, d))
                                       * spread[frame_of[e], None])
    return features, frame_of, atom_of


def brute_frame_rho(features, frame_of, members, reference_frames, extra=None):
    """rho of the atoms of ``members`` frames against the atoms of ``reference_frames``
    (plus fixed ``extra`` points), from scratch; per frame, the array of its atoms' rho."""
    out = {f: [] for f in members}
    for e, x in features.items():
        ref = x[np.isin(frame_of[e], list(reference_frames))]
        if extra is not None:
            ref = torch.cat([extra[e], ref])
        for f in members:
            rows = frame_of[e] == f
            out[f].extend(density(x[rows], SIGMA[e], reference=ref).tolist())
    return {f: np.array(v) for f, v in out.items()}


def test_selection_equals_greedy_from_scratch():
    features, frame_of, atom_of = pool()
    rng = np.random.default_rng(5)
    reference = {e: torch.from_numpy(rng.normal(0, 0.05, (20, x.shape[1])))
                 for e, x in features.items()}
    dens = FrameDensities(features, frame_of, atom_of, 12, SIGMA,
                          {e: (r, None) for e, r in reference.items()})
    picks = select_frames(dens, 5)
    chosen = []
    for pick in picks:
        rest = [f for f in range(12) if f not in chosen]
        rho = brute_frame_rho(features, frame_of, rest, chosen, reference)
        expected = min(rest, key=lambda f: (rho[f].min(), f))
        assert pick.frame == expected
        assert np.isclose(pick.score, rho[expected].min(), rtol=1e-10)
        chosen.append(expected)
    assert all(p.frame >= 6 for p in picks)  # the spread-out frames first


def test_counts_of_a_compressed_reference_act_as_copies():
    features, frame_of, atom_of = pool()
    points = {e: torch.from_numpy(np.random.default_rng(2).normal(0, 0.3, (5, x.shape[1])))
              for e, x in features.items()}
    counts = torch.tensor([1, 2, 3, 4, 5])
    weighted = FrameDensities(features, frame_of, atom_of, 12, SIGMA,
                              {e: (p, counts) for e, p in points.items()})
    copies = FrameDensities(features, frame_of, atom_of, 12, SIGMA,
                            {e: (torch.repeat_interleave(p, counts, 0), None)
                             for e, p in points.items()})
    for e in features:
        assert torch.allclose(weighted.rho(e), copies.rho(e), rtol=1e-12)
    assert [p.frame for p in select_frames(weighted, 4)] == [
        p.frame for p in select_frames(copies, 4)]


def test_pruning_equals_greedy_from_scratch_and_drops_copies_first():
    features, frame_of, atom_of = pool()
    for e in features:  # frame 11 becomes an exact copy of frame 7
        features[e][frame_of[e] == 11] = features[e][frame_of[e] == 7]
    dropped = prune_frames(FrameDensities(features, frame_of, atom_of, 12, SIGMA), 4)
    kept = set(range(12))
    for step in dropped:
        rho = brute_frame_rho(features, frame_of, sorted(kept), kept)
        expected = max(sorted(kept), key=lambda f: (rho[f].mean(), -f))
        assert step.frame == expected
        assert np.isclose(step.score, rho[expected].mean(), rtol=1e-10)
        kept.remove(expected)
    assert len(kept) == 4
    assert len({7, 11} & kept) <= 1  # never both copies
    assert sum(f < 6 for f in kept) <= 1  # the redundant cluster goes
