#!/usr/bin/env python3
"""A minimal DCSM consumer core speaking the htmqc conformance protocol.

Written from conformance/PROTOCOL.md and spec/DCSM.tla only (standard library,
no htmqc code): it is the proof that the protocol is language-neutral, and
the base that the mutants in conformance/mutants/ patch.

    python3 conformance/adapters/python/dcsm_adapter.py

Reads one JSON request per line on stdin, writes one JSON reply per line on
stdout, exits at end of input.
"""

import json
import sys

PROTOCOL_VERSION = 1

PENDING, PROCESSING, DONE, FAILED, DEAD_LETTERED = "Pending", "Processing", "Done", "Failed", "DeadLettered"
FINISHED = (DONE, DEAD_LETTERED)
NO_ANSWER, UNKNOWN = "NoAnswer", "Unknown"    # spec Answers the process can be left with


class Rejected(Exception):
    """An input the state does not allow (or a malformed one): nothing changes."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Slot:
    """One offset of the in-flight window (spec: Slot(st, tries))."""

    def __init__(self):
        self.st = PENDING
        self.tries = 0


class Held:
    """local[c][p] of a held partition, plus the write in flight and the pause flag."""

    def __init__(self, epoch, gen, base):
        self.epoch = epoch
        self.gen = gen
        self.base = base
        self.win = []
        self.writing = 0      # upTo of the WriteLedger in flight, 0 if none
        self.answer = NO_ANSWER   # Unknown from LedgerUnknown until LedgerRead
        self.paused = False
        self.retry_due = 0    # when a Failed head may run again

    def position(self):
        return self.base + len(self.win)

    def finished_prefix(self):
        k = 0
        while k < len(self.win) and self.win[k].st in FINISHED:
            k += 1
        return k


class Dcsm:
    """One consumer process: spec local[c] with the protocol's decisions."""

    def __init__(self, config):
        self.window = config["window"]
        self.max_retries = config["maxRetries"]
        self.backoff = config["retryBackoff"]
        self.partitions = config["partitions"]
        self.now = 0
        self.held = {}    # p -> Held
        self.fence = {}   # p -> highest epoch ever assigned here

    # ------------------------------------------------------------ inputs --

    def step(self, inp):
        """Applies one input; returns the commands (a list of dicts)."""
        self.validate(inp)
        out = []
        kind = inp["kind"]
        if kind == "Tick":
            self.tick(inp["now"], out)
            return out
        p = inp["p"]
        if kind == "Assigned":
            self.assigned(p, inp["epoch"], inp["ledgerNext"], inp["gen"], out)
        elif kind == "Revoked":
            self.holding(p)
            del self.held[p]
        elif kind == "Fetched":
            self.fetched(self.holding(p), p, inp["base"], inp["count"], out)
        elif kind == "HandlerSucceeded":
            self.succeeded(self.holding(p), p, inp["o"], out)
        elif kind == "HandlerFailed":
            self.failed(self.holding(p), p, inp["o"], out)
        elif kind == "LedgerCommitted":
            self.committed(self.holding(p), p, inp["next"], out)
        elif kind == "LedgerRejected":
            self.answered(self.holding(p), "LedgerRejected")
            self.rejected(p, out)
        elif kind == "LedgerUnknown":
            self.lost(self.holding(p), p, out)
        elif kind == "LedgerRead":
            self.read(self.holding(p), p, inp["epoch"], inp["next"], out)
        self.flush(p, out)
        return out

    def validate(self, inp):
        def integer(name, low=0):
            v = inp.get(name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise Rejected("InvalidArgument", "%s must be an integer >= %d" % (name, low))
        if not isinstance(inp, dict):
            raise Rejected("InvalidArgument", "input must be an object")
        fields = {
            "Assigned": [("epoch", 1), ("ledgerNext", 0), ("gen", 0)],
            "Revoked": [],
            "Fetched": [("base", 0), ("count", 1)],
            "HandlerSucceeded": [("o", 0)],
            "HandlerFailed": [("o", 0)],
            "LedgerCommitted": [("next", 0)],
            "LedgerRejected": [],
            "LedgerUnknown": [],
            "LedgerRead": [("epoch", 0), ("next", 0)],
            "Tick": [("now", 0)],
        }.get(inp.get("kind"))
        if fields is None:
            raise Rejected("InvalidArgument", "unknown input kind %r" % (inp.get("kind"),))
        if inp["kind"] != "Tick":
            integer("p")
            if inp["p"] >= self.partitions:
                raise Rejected("InvalidArgument", "partition %d is not below %d" % (inp["p"], self.partitions))
        for name, low in fields:
            integer(name, low)

    def holding(self, p):
        h = self.held.get(p)
        if h is None:
            raise Rejected("UnheldPartition", "partition %d is not held" % p)
        return h

    def assigned(self, p, epoch, ledger_next, gen, out):
        # Spec Assign: the ledger issued a fresh epoch; resume at its next.
        if p in self.held:
            raise Rejected("PartitionAlreadyHeld", "partition %d is already held" % p)
        if epoch <= self.fence.get(p, 0):
            raise Rejected("StaleEpoch", "epoch %d is not above %d" % (epoch, self.fence.get(p, 0)))
        self.held[p] = Held(epoch, gen, ledger_next)
        self.fence[p] = epoch
        out.append({"kind": "Seek", "p": p, "offset": ledger_next})
        out.append({"kind": "Resume", "p": p})

    def fetched(self, h, p, base, count, out):
        # Spec Fetch, once per record that fits the window.
        if base != h.position():
            raise Rejected("OffsetOutsideWindow", "base %d is not the position %d" % (base, h.position()))
        room = self.window - len(h.win)
        accepted = min(count, room)
        for _ in range(accepted):
            h.win.append(Slot())
        if accepted < count:
            out.append({"kind": "Seek", "p": p, "offset": base + accepted})
        if len(h.win) == self.window and not h.paused:
            h.paused = True
            out.append({"kind": "Pause", "p": p})
        self.begin(h, p, out)

    def running_head(self, h, p, o):
        if o < h.base or o >= h.position():
            raise Rejected("OffsetOutsideWindow", "offset %d is outside [%d, %d)" % (o, h.base, h.position()))
        i = o - h.base
        if i != h.finished_prefix() or h.win[i].st != PROCESSING:
            raise Rejected("HandlerNotRunning", "no handler runs for offset %d" % o)
        return h.win[i]

    def begin(self, h, p, out):
        # Spec Begin, taken at once: the first unfinished slot, if Pending.
        k = h.finished_prefix()
        if k < len(h.win) and h.win[k].st == PENDING:
            h.win[k].st = PROCESSING
            out.append({"kind": "RunHandler", "p": p, "o": h.base + k})

    def succeeded(self, h, p, o, out):
        self.running_head(h, p, o).st = DONE
        self.begin(h, p, out)

    def failed(self, h, p, o, out):
        slot = self.running_head(h, p, o)
        slot.st = FAILED
        slot.tries += 1
        if slot.tries <= self.max_retries:
            h.retry_due = self.now + self.backoff
            return
        # Spec DeadLetter, taken at once: retries are spent.
        slot.st = DEAD_LETTERED
        out.append({"kind": "DeadLetter", "p": p, "o": o})
        self.begin(h, p, out)

    def tick(self, now, out):
        # Spec Retry of every failed head whose backoff is over.
        if now < self.now:
            raise Rejected("ClockWentBackwards", "Tick(%d) is before %d" % (now, self.now))
        self.now = now
        for p in sorted(self.held):
            h = self.held[p]
            k = h.finished_prefix()
            if k < len(h.win) and h.win[k].st == FAILED and h.retry_due <= now:
                h.win[k].st = PROCESSING
                out.append({"kind": "RunHandler", "p": p, "o": h.base + k})

    def answered(self, h, what):
        # An answer needs a write in flight whose answer was not lost.
        if h.writing == 0:
            raise Rejected("NoLedgerWriteInFlight", "%s without a WriteLedger in flight" % what)
        if h.answer == UNKNOWN:
            raise Rejected("AnswerLost", "%s after LedgerUnknown: only LedgerRead may follow" % what)

    def committed(self, h, p, nxt, out):
        # Input LedgerCommitted: spec Commit (the ledger took the write), then CommitBroker.
        self.answered(h, "LedgerCommitted")
        if nxt != h.writing:
            raise Rejected("LedgerNextMismatch", "next %d is not the upTo %d of the write" % (nxt, h.writing))
        self.commit(h, p, out)

    def commit(self, h, p, out):
        # Spec Commit of the write in flight, then CommitBroker.
        nxt = h.writing
        del h.win[:nxt - h.base]
        h.base = nxt
        h.writing = 0
        h.answer = NO_ANSWER
        out.append({"kind": "CommitBroker", "p": p, "offset": nxt})
        if h.paused:
            h.paused = False
            out.append({"kind": "Resume", "p": p})

    def rejected(self, p, out):
        # Spec CommitRejected: a newer epoch fenced the ledger; drop the partition.
        del self.held[p]
        out.append({"kind": "Pause", "p": p})

    def lost(self, h, p, out):
        # Spec LoseAnswer: the outcome of the write is unknown; ask for the row.
        self.answered(h, "LedgerUnknown")
        h.answer = UNKNOWN
        out.append({"kind": "ReadLedger", "p": p, "epoch": h.epoch})

    def read(self, h, p, epoch, nxt, out):
        # Spec Recover: decide from the row, read once the lost write settled.
        if epoch < h.epoch:
            raise Rejected("StaleEpoch", "row epoch %d is below the held epoch %d" % (epoch, h.epoch))
        if h.answer != UNKNOWN:
            raise Rejected("AnswerNotLost", "LedgerRead without a lost answer")
        if epoch == h.epoch and nxt not in (h.base, h.writing):
            raise Rejected("LedgerNextMismatch", "row next %d is neither %d nor %d" % (nxt, h.base, h.writing))
        if epoch > h.epoch:
            self.rejected(p, out)          # fenced: the write was refused, or will be
        elif nxt == h.writing:
            self.commit(h, p, out)         # it applied
        else:
            h.writing = 0                  # it did not apply: the flush sends it again
            h.answer = NO_ANSWER

    def flush(self, p, out):
        # The ledger contract: one write in flight, for the finished prefix.
        h = self.held.get(p)
        if h is None or h.writing != 0:
            return
        k = h.finished_prefix()
        if k > 0:
            h.writing = h.base + k
            out.append({"kind": "WriteLedger", "p": p, "epoch": h.epoch, "expectedNext": h.base, "upTo": h.writing})

    # ------------------------------------------------------------- state --

    def observe(self):
        return {"partitions": [
            {"p": p, "epoch": h.epoch, "gen": h.gen, "base": h.base,
             "win": [{"st": s.st, "tries": s.tries} for s in h.win], "answer": h.answer}
            for p, h in sorted(self.held.items())
        ]}


def serve(make_core=Dcsm, name="python minimal DCSM", stdin=sys.stdin, stdout=sys.stdout):
    """The protocol loop: one request per line in, one reply per line out."""
    core = None
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError:
            reply = {"id": None, "type": "error", "code": "BadRequest", "message": "not JSON"}
        else:
            rid, kind = req.get("id"), req.get("type")
            if kind == "hello":
                if req.get("version") == PROTOCOL_VERSION:
                    reply = {"id": rid, "type": "hello_ok", "version": PROTOCOL_VERSION, "implementation": name}
                else:
                    reply = {"id": rid, "type": "error", "code": "UnsupportedVersion", "message": "version 1 only"}
            elif kind == "reset":
                core = make_core(req["config"])
                reply = {"id": rid, "type": "reset_ok"}
            elif core is None:
                reply = {"id": rid, "type": "error", "code": "NotReset", "message": "reset first"}
            elif kind == "step":
                try:
                    reply = {"id": rid, "type": "step_ok", "commands": core.step(req.get("input"))}
                except Rejected as e:
                    reply = {"id": rid, "type": "error", "code": e.code, "message": str(e)}
            elif kind == "state":
                reply = {"id": rid, "type": "state_ok", "state": core.observe()}
            else:
                reply = {"id": rid, "type": "error", "code": "UnknownType", "message": "unknown type %r" % (kind,)}
        stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve()
