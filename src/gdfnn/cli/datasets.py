"""``gdfnn datasets``: the data and potentials shipped inside the package."""

from __future__ import annotations

import argparse

from gdfnn import datasets


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list the data and potentials shipped with gdfnn",
                       description="The DFT data and potentials inside the package (each with "
                       "its licence and provenance); name one in a config or on the command line "
                       "as dataset:NAME/PART (a file) or dataset:NAME (a potential folder).")
    p.add_argument("name", nargs="?", default=None, help="show one entry: source, units, files")
    p.add_argument("--path", default=None, metavar="NAME[/PART]",
                   help="print the checked path of a packaged file or folder (for scripts)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.path:
        print(datasets.resolve(datasets.PREFIX + args.path.removeprefix(datasets.PREFIX)))
    elif args.name:
        print(_details(datasets.get(args.name)))
    else:
        print(_listing())
    return 0


def _details(d: datasets.Dataset) -> str:
    return "\n".join([f"{d.name} ({d.kind}, {d.size() / 1024:.0f} KiB, {d.licence})",
                      f"  for:        {d.purpose}", f"  units:      {d.units}",
                      f"  source:     {d.provenance}",
                      f"  folder:     {datasets.path(d.name)}",
                      f"  licence:    {d.folder / 'LICENSE'}",
                      *(f"  {datasets.PREFIX}{d.name}/{part}: {file}"
                        for part, file in d.parts.items())])


def _listing() -> str:
    rows = [["name", "kind", "parts", "size", "licence", "for"]] + [
        [d.name, d.kind, ", ".join(d.parts), f"{d.size() / 1024:.0f} KiB", d.licence, d.purpose]
        for d in datasets.CATALOGUE.values()]
    widths = [max(len(row[k]) for row in rows) for k in range(5)]
    lines = ["  ".join(row[k].ljust(w) for k, w in enumerate(widths)) + "  " + row[5]
             for row in rows]
    return "\n".join([*lines, "", f"Use as {datasets.PREFIX}NAME/PART wherever a data file goes, "
                      f"{datasets.PREFIX}NAME for a potential folder; 'gdfnn datasets NAME' shows "
                      "its source, units and files."])
