"""Data and potentials shipped inside the package: what the product's defaults need.

Every entry is a folder beside this module holding its files, its ``LICENSE`` and a one-line
``PROVENANCE`` (source repository, commit, paper). A file is named by ``NAME/PART``::

    gdfnn.datasets.path("mlearn-si", "train")    # .../datasets/mlearn-si/si_mlearn_train.xyz
    gdfnn.datasets.path("mlearn-snap-si")        # the folder (potentials are folders)
    gdfnn.datasets.resolve("dataset:mlearn-si/test")

and wherever gdfnn takes a data file or a potential path, ``dataset:NAME/PART`` (a file) or
``dataset:NAME`` (the folder) stands for it: ``data.train: ["dataset:mlearn-si/train"]``,
``gdfnn evaluate POT --data dataset:mlearn-si/test``. ``gdfnn datasets`` lists them.

Each file is checked against the SHA-256 recorded here before its path is handed out, so a
missing or altered file is one :class:`~gdfnn.errors.InputError` naming it, not a wrong
result. Units: energies eV, forces eV/Å, positions Å, except where an entry says otherwise
(the n2p2 potentials were trained in Bohr and Hartree).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gdfnn.errors import InputError

#: Prefix of a dataset reference in configs and on the command line.
PREFIX = "dataset:"
#: The folder of the packaged files.
ROOT = Path(__file__).resolve().parent
REINSTALL = "pip install --force-reinstall --no-deps gdfnn"


@dataclass(frozen=True)
class Dataset:
    """One packaged entry.

    Attributes:
        name: what ``dataset:NAME`` names.
        kind: ``"DFT data"`` (extxyz frames) or ``"potential"`` (a folder to load).
        purpose: what gdfnn uses it for.
        units: the units of its numbers.
        parts: part name -> file name (``dataset:NAME/PART``).
        sha256: file name -> SHA-256 of every file of the entry, its licence included.
        licence: SPDX identifier; the text is the folder's ``LICENSE``.
    """

    name: str
    kind: str
    purpose: str
    units: str
    parts: dict[str, str]
    sha256: dict[str, str]
    licence: str = "BSD-3-Clause"

    @property
    def folder(self) -> Path:
        return ROOT / self.name

    @property
    def provenance(self) -> str:
        """The one-line provenance of the folder's ``PROVENANCE`` file."""
        return (self.folder / "PROVENANCE").read_text().strip()

    def size(self) -> int:
        """Bytes of its files on disk."""
        return sum((self.folder / f).stat().st_size for f in self.sha256
                   if (self.folder / f).is_file())


_MLEARN_LICENCE = {"LICENSE": "f82460fc65e8e5dc3d00bfee0ce2a656f8c9d5af0dfc5511e9875e88051a55e9"}
_EV_STRESS = "eV, eV/Å, Å; stress eV/Å^3 (ASE's sign: positive under tension)"

CATALOGUE: dict[str, Dataset] = {d.name: d for d in (
    Dataset("mlearn-si", "DFT data",
            "Si DFT with stress (train 214 frames, 13,233 atoms; test 25 frames, 1,525 atoms; "
            "Vacancy, AIMD-NVT, Elastic, Surface): examples/si_mlearn.yaml, gdfnn reproduce "
            "si-mlearn; properties: PBE values for gdfnn properties --reference", _EV_STRESS,
            {"train": "si_mlearn_train.xyz", "test": "si_mlearn_test.xyz",
             "properties": "properties_pbe.yaml"},
            {"si_mlearn_train.xyz":
             "1323384fea469f0a5b2be1dfaafca935779d2a66f0eed4de9c35744ce17dd759",
             "si_mlearn_test.xyz":
             "1a0379b29df9ee9d8f4595f4c70a769675bfb505d5d408b7e85c9b5c33f3b1fe",
             "properties_pbe.yaml":
             "52f68ebde2702531027a357caa2380e2efae418e6d365139ca81d4f84bcc6c33",
             **_MLEARN_LICENCE}),
    Dataset("mlearn-ni", "DFT data",
            "Ni DFT with stress (train 147 frames, 14,892 atoms: Elastic, Surface, Vacancy, "
            "without mlearn's AIMD-NVT training frames; test 31 frames, 3,158 atoms: Vacancy, "
            "AIMD-NVT, Elastic, Surface): examples/ni_mlearn.yaml; properties: PBE values for "
            "gdfnn properties --reference", _EV_STRESS,
            {"train": "ni_mlearn_train.xyz", "test": "ni_mlearn_test.xyz",
             "properties": "properties_pbe.yaml"},
            {"ni_mlearn_train.xyz":
             "74faf94d6316f881d4f83d9b644f9a0771630f78cef7a32b321236755b82f769",
             "ni_mlearn_test.xyz":
             "67dce7717dfe2d05d5853866033227be7154805bfd27ead41945111088cb5ee3",
             "properties_pbe.yaml":
             "b2a712bb797432c8ab6682922f2943337b04b3fd3f05131c19df8da5d63dc163",
             **_MLEARN_LICENCE}),
    Dataset("snap-ni", "DFT data",
            "Ni DFT with stress, vacancy AIMD (40 frames of 107 atoms): rare environments of "
            "fcc Ni", _EV_STRESS,
            {"vacancy": "ni_snap_vacancy.xyz"},
            {"ni_snap_vacancy.xyz":
             "edafdefda63372c34751ddb91456f219b75663c1478a415a356f1915b1ff2426",
             "LICENSE": "4c7a43fb32ed4913586679f60ada915357f5933c378d1d7ae2ae991f92ab7e9c"}),
    Dataset("mlearn-snap-si", "potential",
            "SNAP Si fitted to PBE: the snap-si reference that stands in for DFT in gdfnn "
            "demo and the Si experiments (LAMMPS ML-SNAP)",
            "LAMMPS units metal (Å, eV)",
            {"snapcoeff": "Si.snapcoeff", "snapparam": "Si.snapparam",
             "original": "Si.snapparam.original"},
            {"Si.snapcoeff": "33a440bea72b99869ebaf61dec009566768dd11b429b2469c5bb2cee12f8a676",
             "Si.snapparam": "9a619a0c1e76bf81b8ef9384f6e97ee47b61a643fab02ba16221c73381aee0da",
             "Si.snapparam.original":
             "8e43c3b9254f58d37f4ac44780d03144ea2dbfcb6fb908a56ffad51e844f5d0b",
             **_MLEARN_LICENCE}),
    Dataset("mlearn-snap-ni", "potential",
            "SNAP Ni fitted to PBE: the snap-ni reference potential (LAMMPS ML-SNAP), a peer "
            "for gdfnn properties",
            "LAMMPS units metal (Å, eV)",
            {"snapcoeff": "Ni.snapcoeff", "snapparam": "Ni.snapparam",
             "original": "Ni.snapparam.original"},
            {"Ni.snapcoeff": "a82a3e17677a670f3c070249fd305072609a39903f2e9cd5562ed9c7b595968b",
             "Ni.snapparam": "7aee41db794539d948773a787bc3ab4497cf256acd8262d796f93d52ec0c4566",
             "Ni.snapparam.original":
             "be03aa132becc26bac906a62bc83b7404840310dd4db9ddccb7069ab726a9f3f",
             **_MLEARN_LICENCE}),
    Dataset("mlearn-n2p2-si", "potential",
            "published n2p2 Si potential (an n2p2 folder: load_potential, gdfnn evaluate, "
            "export, md)",
            "Bohr and Hartree: load with length_unit='bohr', energy_unit='hartree' "
            "(--potential-length-unit bohr --potential-energy-unit hartree)",
            {"input": "input.nn", "scaling": "scaling.data", "weights": "weights.014.data"},
            {"input.nn": "a07acbcb779fa87767fe4b00d7be7befb4cca58c92395d1e555358a2fe961637",
             "scaling.data": "175332aec2cbd7feab53555885f9063a9a1b4f459272575f287e26c5bdb82c87",
             "weights.014.data":
             "0ac2de1d21f7974950b3adadfec2ab51a50082817b54a9b4a7b0cac6e6091f15",
             **_MLEARN_LICENCE}),
    Dataset("mlearn-n2p2-ni", "potential",
            "published n2p2 Ni potential (an n2p2 folder)",
            "Bohr and Hartree: load with length_unit='bohr', energy_unit='hartree'",
            {"input": "input.nn", "scaling": "scaling.data", "weights": "weights.028.data"},
            {"input.nn": "61b2c7671195c611696e2ac89d5567836afd107e392f8dd31767e6389f2ffce4",
             "scaling.data": "3a5274e55a412ddfb0bc8498747fe900841d28eb2cdcbb644850f84c5dcc9fe7",
             "weights.028.data":
             "ca61590db3900f550cee179e1dd62f5165eb60bcdf835ca54dd9de416cb07fe5",
             **_MLEARN_LICENCE}),
)}

#: (path, size, mtime) of files whose checksum matched in this process.
_verified: set[tuple[str, int, int]] = set()


def names() -> list[str]:
    """The names of the packaged entries."""
    return list(CATALOGUE)


def get(name: str) -> Dataset:
    """The entry ``name``; an unknown name is an :class:`InputError` listing the known ones."""
    if name not in CATALOGUE:
        raise InputError(f"unknown dataset {name!r}; known: {', '.join(CATALOGUE)} "
                         "(gdfnn datasets lists them)")
    return CATALOGUE[name]


def _verify(dataset: Dataset, file: str) -> Path:
    path = dataset.folder / file
    if not path.is_file():
        raise InputError(f"packaged file {path} of dataset {dataset.name!r} is missing: the "
                         f"installation is incomplete; reinstall gdfnn ({REINSTALL})")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != dataset.sha256[file]:
            raise InputError(f"packaged file {path} of dataset {dataset.name!r} is altered "
                             f"(SHA-256 {digest[:12]}..., expected {dataset.sha256[file][:12]}"
                             f"...); reinstall gdfnn ({REINSTALL})")
        _verified.add(key)
    return path


def path(name: str, part: str | None = None) -> Path:
    """The checked path of part ``part`` of dataset ``name`` (a file), or of its folder
    with every file checked (``part=None``).

    Raises:
        InputError: an unknown name or part, or a packaged file missing or altered.
    """
    dataset = get(name)
    if part is None:
        for file in dataset.sha256:
            _verify(dataset, file)
        return dataset.folder
    if part not in dataset.parts:
        raise InputError(f"dataset {name!r} has no part {part!r}; its parts: "
                         f"{', '.join(dataset.parts)}")
    return _verify(dataset, dataset.parts[part])


def is_reference(text: str | Path) -> bool:
    """Whether ``text`` is a ``dataset:NAME[/PART]`` reference."""
    return isinstance(text, str) and text.startswith(PREFIX)


def resolve(reference: str) -> Path:
    """The checked path named by ``dataset:NAME/PART`` (a file) or ``dataset:NAME`` (the
    folder)."""
    if not is_reference(reference):
        raise InputError(f"{reference!r} is not a dataset reference ({PREFIX}NAME[/PART])")
    name, _, part = reference.removeprefix(PREFIX).partition("/")
    return path(name, part or None)


def local_path(text: str) -> str:
    """``text`` itself, or the path a ``dataset:`` reference names: for every place that
    takes a file or folder name."""
    return str(resolve(text)) if is_reference(text) else text
