"""Label: energy and forces of the selected frames, ``label_workers`` at a time, each frame
in its own folder ``NNNN/``: ``input.extxyz``, what the labeller writes (``output.extxyz``),
and, once checked, ``labelled.extxyz`` (done) or ``failed.json`` (failed twice: recorded and
skipped). A rerun labels only the frames with neither, and takes a whole output a killed run
left as it is: no finished label is run twice (one a kill cut short runs again).

The labeller is ``learn.labeller`` (a calculator, run by
:mod:`gdfnn.reference.calculators` in a process of its own) or ``learn.label_command``
(a shell command with ``{input}`` and ``{output}``, e.g. a scheduler's
``sbatch --wait dft.sh {input} {output}``); either is stopped (its whole process group)
after ``learn.label_timeout`` seconds."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from gdfnn.config import LearnConfig
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.reference.calculators import NO_FORCES

log = logging.getLogger("gdfnn")
INPUT, OUTPUT, DONE, FAILED = "input.extxyz", "output.extxyz", "labelled.extxyz", "failed.json"
#: Tries of a label before it is recorded as failed and skipped.
ATTEMPTS = 2


class LabelFailed(Exception):
    """One try of one label failed (the labeller's exit status or output is wrong)."""


def command(learn: LearnConfig, folder: Path) -> str:
    """The shell command that labels ``folder/input.extxyz`` into ``folder/output.extxyz``."""
    source, target = shlex.quote(str(folder / INPUT)), shlex.quote(str(folder / OUTPUT))
    if learn.label_command is not None:
        return learn.label_command.format(input=source, output=target)
    return " ".join(shlex.quote(a) for a in (sys.executable, "-m",
                                             "gdfnn.reference.calculators", learn.labeller,
                                             json.dumps(learn.labeller_kwargs))) + \
        f" {source} {target}"


def label_frames(frames: list[ase.Atoms], folder: Path, learn: LearnConfig
                 ) -> tuple[list[ase.Atoms], list[dict]]:
    """Label ``frames`` into ``folder`` (see the module); returns the labelled frames, in
    order, the failed ones left out, and the failures (``frame``, ``error``). A labeller
    that gives no forces stops everything with an :class:`InputError`."""
    folders = [folder / f"{k:04d}" for k in range(len(frames))]
    for frame, sub in zip(frames, folders, strict=True):
        if not (sub / INPUT).is_file():
            sub.mkdir(parents=True, exist_ok=True)
            with atomic_write(sub / INPUT) as out:
                ase.io.write(out, _bare(frame), format="extxyz")
    todo = [sub for sub in folders if not (sub / DONE).is_file() and not (sub / FAILED).is_file()]
    if todo:
        log.info("labelling %d of %d frames, %d at a time", len(todo), len(folders),
                 learn.label_workers)
    with ThreadPoolExecutor(max_workers=learn.label_workers) as pool:
        for sub, error in zip(todo, pool.map(lambda s: _label(s, learn), todo), strict=True):
            if error is not None:
                log.warning("label %s failed twice, skipped: %s", sub.name, error)
    labelled, failures = [], []
    for k, sub in enumerate(folders):
        if (sub / DONE).is_file():
            labelled.append(ase.io.read(sub / DONE))
        else:
            failures.append({"frame": k, "error": json.loads((sub / FAILED).read_text())["error"]})
    return labelled, failures


def _bare(frame: ase.Atoms) -> ase.Atoms:
    """The frame as the labeller gets it: symbols, positions, cell, pbc, nothing else."""
    return ase.Atoms(frame.get_chemical_symbols(), frame.positions, cell=frame.cell,
                     pbc=frame.pbc)


def _label(sub: Path, learn: LearnConfig) -> str | None:
    """Label the frame in ``sub``, tried :data:`ATTEMPTS` times; the last error, or None.
    An output a killed run left there whole is taken as it is, not labelled again."""
    error = None
    for attempt in range(ATTEMPTS):
        try:
            frame = _finished(sub, learn) if attempt == 0 else None
            if frame is None:
                frame = _attempt(sub, learn)
        except LabelFailed as exc:
            error = str(exc)
            log.info("label %s, try %d: %s", sub.name, attempt + 1, error)
            continue
        with atomic_write(sub / DONE) as out:
            ase.io.write(out, frame, format="extxyz")
        return None
    with atomic_write(sub / FAILED) as out:
        json.dump({"error": error, "attempts": ATTEMPTS}, out)
    return error


def _finished(sub: Path, learn: LearnConfig) -> ase.Atoms | None:
    """The labelled frame from an output already in ``sub`` (the labeller finished, the run
    was killed before it recorded so), or None."""
    if not (sub / OUTPUT).is_file():
        return None
    try:
        return _checked(sub, learn)
    except LabelFailed:
        return None


def _attempt(sub: Path, learn: LearnConfig) -> ase.Atoms:
    """One try: run the labeller, read and check its output against the input frame."""
    (sub / OUTPUT).unlink(missing_ok=True)
    process = subprocess.Popen(command(learn, sub), shell=True, cwd=sub, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        _, err = process.communicate(timeout=learn.label_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise LabelFailed(f"timed out after {learn.label_timeout:g} s") from None
    if process.returncode == NO_FORCES and learn.label_command is None:
        raise InputError(f"learn.labeller {learn.labeller}: gives no forces (frame "
                         f"{sub / INPUT})")
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["(no output)"])[-1]
        raise LabelFailed(f"exit status {process.returncode}: {last}")
    return _checked(sub, learn)


def _checked(sub: Path, learn: LearnConfig) -> ase.Atoms:
    """The labelled frame: the input's atoms with the output's energy, forces and (if given)
    stress; raises :class:`LabelFailed` for a missing or unreadable output and
    :class:`InputError` for one without forces."""
    source = ase.io.read(sub / INPUT)
    try:
        result = ase.io.read(sub / OUTPUT)
        energy = result.get_potential_energy()
    except Exception as exc:  # a missing, cut or foreign file: ase raises many types
        raise LabelFailed(f"no energy in {sub / OUTPUT}: {str(exc).splitlines()[0]}") from None
    try:
        forces = result.get_forces()
    except Exception:
        forces = None
    if forces is None or np.shape(forces) != (len(source), 3):
        who = (f"learn.label_command {learn.label_command!r}" if learn.label_command
               else f"learn.labeller {learn.labeller}")
        raise InputError(f"{who}: wrote no forces for the {len(source)} atoms of "
                         f"{sub / INPUT} (in {sub / OUTPUT})")
    if len(result) != len(source) or result.get_chemical_symbols() != \
            source.get_chemical_symbols():
        raise LabelFailed(f"{sub / OUTPUT} holds other atoms than {sub / INPUT}")
    if not (np.isfinite(energy) and np.isfinite(forces).all()):
        raise LabelFailed(f"non-finite energy or forces in {sub / OUTPUT}")
    results = {"energy": energy, "forces": forces}
    try:
        results["stress"] = result.get_stress()
    except Exception:
        pass
    source.calc = SinglePointCalculator(source, **results)
    return source
