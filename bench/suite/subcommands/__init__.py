"""The benchmark suite's subcommands (bench/suite/suite.py dispatches to them): one module per
subcommand with add_parser(sub) and run(args), shared code in common.py."""
