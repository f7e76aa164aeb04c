"""``gdfnn config``: print the default config, or check a config file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("config", help="print the default config or check a config file",
                       description="Print every config key with its default and meaning.")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--defaults", action="store_true", help="print the defaults (default)")
    group.add_argument("--check", metavar="CONFIG", help="validate CONFIG, print it resolved")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.config import defaults_yaml, load_config

    if args.check:
        import yaml

        config = load_config(args.check)
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    print(defaults_yaml(), end="")
    return 0
