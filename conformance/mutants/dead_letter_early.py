#!/usr/bin/env python3
"""Dead-letters when tries reach MaxRetries instead of exceeding it: one retry too few."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def __init__(self, config):
        super().__init__(config)
        self.max_retries -= 1


if __name__ == "__main__":
    serve(Mutant, "mutant dead_letter_early")
