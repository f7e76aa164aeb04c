"""The paper's experiments as runnable workflows, on classical reference potentials."""
