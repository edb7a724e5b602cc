#!/usr/bin/env python3
"""WriteLedger's upTo is one past the finished prefix: the ledger would record an unfinished offset as handled (NoGapInv)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def flush(self, p, out):
        h = self.held.get(p)
        if h is None or h.writing != 0:
            return
        k = h.finished_prefix()
        if k > 0:
            h.writing = h.base + k + 1
            out.append({"kind": "WriteLedger", "p": p, "epoch": h.epoch, "expectedNext": h.base, "upTo": h.writing})


if __name__ == "__main__":
    serve(Mutant, "mutant watermark_off_by_one")
