"""End-to-end workflows behind the CLI subcommands."""
