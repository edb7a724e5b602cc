#!/usr/bin/env python3
"""CommitBroker is issued with WriteLedger, before the ledger holds the offset (OffsetOrderInv: brokerOffset <= ledger next)."""

from _base import Dcsm, serve


class Mutant(Dcsm):
    def flush(self, p, out):
        writing = self.held[p].writing if p in self.held else None
        super().flush(p, out)
        h = self.held.get(p)
        if h is not None and h.writing != 0 and h.writing != writing:
            out.append({"kind": "CommitBroker", "p": p, "offset": h.writing})

    def committed(self, h, p, nxt, out):
        super().committed(h, p, nxt, out)
        out[:] = [c for c in out if c["kind"] != "CommitBroker"]


if __name__ == "__main__":
    serve(Mutant, "mutant commit_broker_early")
