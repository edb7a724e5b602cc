"""Shared by the mutants: imports the Python implementation they patch."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "adapters", "python"))

import dcsm_adapter  # noqa: E402  (the path above comes first)

Dcsm = dcsm_adapter.Dcsm
Rejected = dcsm_adapter.Rejected
serve = dcsm_adapter.serve
FAILED = dcsm_adapter.FAILED
DONE = dcsm_adapter.DONE
DEAD_LETTERED = dcsm_adapter.DEAD_LETTERED
UNKNOWN = dcsm_adapter.UNKNOWN
NO_ANSWER = dcsm_adapter.NO_ANSWER
