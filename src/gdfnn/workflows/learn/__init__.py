"""``gdfnn learn``: from structures and a labeller (a DFT code's ASE calculator, a reference
potential, or a command for the user's scheduler) to a potential, in rounds of explore (MD
with the current potential, its candidates up to where it leaves the training data), select (by GDF
coverage, an ensemble's force deviation, or at random), label and train (to convergence);
resumable at every step (:mod:`gdfnn.workflows.learn.loop`)."""

from gdfnn.workflows.learn.loop import learn

__all__ = ["learn"]
