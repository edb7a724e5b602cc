#!/usr/bin/env python3
"""A failed handler is retried on the next Tick, whether its backoff is over or not."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def __init__(self, config):
        super().__init__(config)
        self.backoff = 0


if __name__ == "__main__":
    serve(Mutant, "mutant retry_ignores_backoff")
