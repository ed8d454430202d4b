"""The `quoteqa` command: one entry point, one subcommand per job."""
# placeholder: the core author is writing this file; front-end modules plug in through
# `add_arguments(subparser)` and `run(args, settings) -> int`.
