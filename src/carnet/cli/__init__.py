"""The command line (Typer + rich): thin, one file per domain."""
