"""``gdfnn train``: train a potential from a config."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a potential from a config",
                       description="Featurise (cached), compute GDF weights when gdf.enabled, "
                       "train, and write potential.pt, learning_curve.csv, metrics.json and "
                       "config_resolved.yaml into output.directory. Ctrl-C or a file named STOP "
                       "in that directory stops cleanly; --resume continues from checkpoint.pt. "
                       "Data parallel: torchrun --nproc_per_node=N -m gdfnn train CONFIG.")
    p.add_argument("config", help="config YAML (see gdfnn config --defaults)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoint.pt")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    p.add_argument("--output", default=None, help="override output.directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.train import train

    config = options.config_for([args.config], args.output, {"training": {"epochs": args.epochs}})
    options.set_threads(config.training.threads)
    train(config, resume=args.resume)
    return 0
