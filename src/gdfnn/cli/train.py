"""``gdfnn train``: train a potential from a config."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from gdfnn.cli import options
from gdfnn.errors import ConfigError

if TYPE_CHECKING:
    from gdfnn.config import Config

log = logging.getLogger("gdfnn")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a potential from a config",
                       description="Featurise (cached), compute GDF weights when gdf.enabled, "
                       "train, and write potential.pt, learning_curve.csv, metrics.json and "
                       "config_resolved.yaml into output.directory. Ctrl-C or a file named STOP "
                       "in that directory stops cleanly; --resume continues from checkpoint.pt. "
                       "Data parallel: torchrun --nproc_per_node=N -m gdfnn train CONFIG.")
    p.add_argument("config", help="config YAML (see gdfnn config --defaults), or an n2p2 "
                   "training folder (input.nn + input.data: its symmetry functions, network, "
                   "epochs, test fraction and seed; docs/train.md)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoint.pt")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    p.add_argument("--valid-rate", type=float, default=None, help="override data.valid_rate "
                   "(0: no validation hold-out, the last epoch kept; as n2p2 trains)")
    p.add_argument("--no-properties", action="store_true",
                   help="skip the equation of state of the ground-state crystal after training "
                   "(output.properties: false)")
    p.add_argument("--output", default=None, help="override output.directory (n2p2 folder: "
                   "default FOLDER/gdfnn)")
    p.add_argument("--length-unit", default=None, help="n2p2 folder: length unit of input.data "
                   "and input.nn (angstrom, bohr or Å per unit; default angstrom)")
    p.add_argument("--energy-unit", default=None, help="n2p2 folder: energy unit of input.data "
                   "(ev, hartree or eV per unit; default ev)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.n2p2_setup import is_n2p2_folder
    from gdfnn.workflows.train import train

    overrides = {"training": {"epochs": args.epochs}, "data": {"valid_rate": args.valid_rate}}
    if args.no_properties:
        overrides["output"] = {"properties": False}
    if is_n2p2_folder(args.config):
        config = n2p2_config(args, overrides)
    elif args.length_unit or args.energy_unit:
        raise ConfigError("gdfnn train: --length-unit/--energy-unit are for an n2p2 training "
                          "folder; a config gives data.length_unit and data.energy_unit")
    else:
        config = options.config_for([args.config], args.output, overrides)
    options.set_threads(config.training.threads)
    train(config, resume=args.resume)
    return 0


def n2p2_config(args: argparse.Namespace, overrides: dict) -> Config:
    """The config of the n2p2 training folder ``args.config`` with the command line's values;
    printed, resolved, so that the user sees what was taken from input.nn."""
    from gdfnn.config import config_from_dict, with_overrides
    from gdfnn.workflows.n2p2_setup import length_unit_warning, n2p2_config_values

    values = n2p2_config_values(args.config, args.length_unit or "angstrom",
                                args.energy_unit or "ev")
    warning = length_unit_warning(Path(values["data"]["train"][0]), args.length_unit or "angstrom")
    if warning:
        log.warning(warning)
    if args.output:
        values["output"]["directory"] = str(Path(args.output).resolve())
    config = with_overrides(config_from_dict(values, source=f"{args.config} (n2p2)"), overrides)
    print(f"n2p2 training folder {args.config}: {config.data.train[0]} in "
          f"{config.data.length_unit}, {config.data.energy_unit}; symmetry functions of "
          f"{config.descriptor.n2p2}; hidden {config.model.hidden} {config.model.activation}; "
          f"{config.training.epochs} epochs of {_optimizer(config.training)}; force_coeff "
          f"{config.training.force_coeff:g}; {_split(config.data)}; into "
          f"{config.output.directory}")
    return config


def _split(data) -> str:
    """What the n2p2 line says is trained on, tested and held out."""
    test = (f"nnp-train's split ({Path(data.test[0]).name} tested)" if data.test
            else f"test_rate {data.test_rate}")
    held = (f"valid_rate {data.valid_rate}: that share of the training structures held out to "
            "choose the best epoch (n2p2 holds out none; --valid-rate 0 to train on all)"
            if data.valid_rate else "no validation hold-out: the last epoch is kept")
    return f"{test}; {held}"


def _optimizer(training) -> str:
    """The optimiser as the n2p2 line names it: the Kalman filter with its type and blocks."""
    if training.optimizer != "kalman":
        return training.optimizer
    return f"the Kalman filter ({training.kalman.type}, {training.kalman.blocks} blocks)"
