#!/usr/bin/env python3
"""The committed prefix may include a Failed slot awaiting its retry: a record is committed with no outcome (NoGapInv)."""

from _base import Dcsm, serve, DONE, DEAD_LETTERED, FAILED


class Mutant(Dcsm):
    def flush(self, p, out):
        h = self.held.get(p)
        if h is None or h.writing != 0:
            return
        k = 0
        while k < len(h.win) and h.win[k].st in (DONE, DEAD_LETTERED, FAILED):
            k += 1
        if k > 0:
            h.writing = h.base + k
            out.append({"kind": "WriteLedger", "p": p, "epoch": h.epoch, "expectedNext": h.base, "upTo": h.writing})


if __name__ == "__main__":
    serve(Mutant, "mutant non_contiguous_commit")
