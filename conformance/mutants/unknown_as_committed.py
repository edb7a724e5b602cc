#!/usr/bin/env python3
"""LedgerUnknown taken for LedgerCommitted: the window moves past offsets the ledger may not hold (spec MC_Mutant_UnknownAsCommitted, OffsetOrderInv)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def lost(self, h, p, out):
        self.answered(h, "LedgerUnknown")
        self.commit(h, p, out)


if __name__ == "__main__":
    serve(Mutant, "mutant unknown_as_committed")
