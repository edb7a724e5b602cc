#!/usr/bin/env python3
"""Failures are counted per partition, never reset for the next offset: a record is dead-lettered before its retries."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def failed(self, h, p, o, out):
        slot = self.running_head(h, p, o)
        h.failures = getattr(h, "failures", 0) + 1
        slot.tries = h.failures - 1
        super().failed(h, p, o, out)


if __name__ == "__main__":
    serve(Mutant, "mutant retry_counter_not_reset")
