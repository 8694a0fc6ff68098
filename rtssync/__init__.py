"""rtssync: RTS Financial factoring setup for the Alvys TMS, managed as code."""

__version__ = "0.1.0"
