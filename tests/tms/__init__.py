"""Tests of the TMS backends; contract.py is the suite every backend runs."""
