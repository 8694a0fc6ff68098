"""rtssync's benchmarks (``python -m bench``); not part of the installed package."""

# The command modules (plan's read_inputs, apply's sops_credentials) import the CLI, which
# imports them back; entering through the CLI, as the ``rtssync`` script does, breaks the cycle.
import rtssync.cli  # noqa: F401
