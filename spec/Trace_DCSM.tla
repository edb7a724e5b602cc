----------------------------- MODULE Trace_DCSM -----------------------------
(***************************************************************************)
(* Trace validation: TLC confirms that the merged trace of a real run is a  *)
(* behaviour of DCSM (the etcd/raft and CCF style).  A cursor l walks the   *)
(* log; each record is matched by one IsX predicate that takes the REAL     *)
(* DCSM action X and then checks the record's post-state.  Environment     *)
(* steps the processes cannot log (Produce, Rebalance) are inserted only    *)
(* where the next record needs them, so the behaviour is found without      *)
(* search.  A record that no action can take leaves TLC in a deadlock at    *)
(* that l; a trace matched to its end reaches Done and TraceMatched holds.   *)
(*                                                                         *)
(* The log is a generated module (trace-check/tlc/generate.ts) that EXTENDS *)
(* this one and defines the Gen* operators bound in Trace_DCSM.cfg.         *)
(*                                                                         *)
(* Field table: TLA+ record field = NDJSON field (trace-check/SCHEMA.md) =  *)
(* code (src/core/trace.ts makeTraceRecord):                              *)
(*   c      = "c<i>", i the trace file's index in the merge (spec consumer) *)
(*   action = "action"                                                    *)
(*   p      = "p" mapped through the file's .partitions sidecar           *)
(*   epoch, base, pos = "epoch", "base", "pos" (post-state of local[c][p]) *)
(*   a      = gen | dropped | o | from | offset   (binary field a)          *)
(*   b      = n | tries | upTo                    (binary field b)          *)
(*                                                                         *)
(* The split ledger write: the records of the three consumer steps, with *)
(* post-state fields as for every record:                                  *)
(*   WriteLedger  a = expectedNext (= base), b = upTo                      *)
(*   LoseAnswer   b = upTo of the write whose answer was lost              *)
(*   Recover      a = the row's epoch read, b = the row's next read        *)
(* ApplyWrite and AbortWrite are the database's steps: no process logs     *)
(* them, so GuidedEnv inserts them where the next record needs them: the   *)
(* answer (Commit, CommitRejected), the Recover that read the row, and a   *)
(* fence that read the next a write set.  A write no record shows applied  *)
(* did not, for the end-of-trace check (TraceCheckEnd).                    *)
(***************************************************************************)
EXTENDS DCSM, TLC

CONSTANTS
    TraceLog,       \* the merged records, a tuple of [c, action, p, epoch, base, pos, a, b]
    TraceLogEnd,    \* TraceLogEnd[p]: the log end offset of p (Fetch never reads past it)
    TraceCheckEnd   \* TRUE: at the end every partition's ledger.next must be its log end

VARIABLES
    l,              \* the cursor: TraceLog[l] is the next record to match
    fk              \* Fetch steps already taken for the run TraceLog[l] (a run of n Fetch steps)

traceVars == <<vars, l, fk>>

\* Init followed by nothing: producers append lazily (GuidedProduce).
TraceInit == Init /\ l = 1 /\ fk = 0

Rec == TraceLog[l]

\* The record's post-state fields against the spec's new local[c][p].
PostOK(r) ==
    /\ local'[r.c][r.p].epoch = r.epoch
    /\ local'[r.c][r.p].base = r.base
    /\ local'[r.c][r.p].base + Len(local'[r.c][r.p].win) = r.pos

Advance == l' = l + 1 /\ fk' = 0

HeadOf(r) == HeadIndex(local[r.c][r.p].win)

IsAssign ==
    /\ Rec.action = "Assign"
    /\ Assign(Rec.c, Rec.p)
    /\ PostOK(Rec)
    /\ Advance

IsRevoke ==
    /\ Rec.action = "Revoke"
    /\ Rec.a = local[Rec.c][Rec.p].epoch
    /\ Revoke(Rec.c, Rec.p)
    /\ PostOK(Rec)
    /\ Advance

\* One Fetch step of the run o .. o+n-1; the record is matched by its last one.
IsFetch ==
    /\ Rec.action = "Fetch"
    /\ Position(Rec.c, Rec.p) = Rec.a + fk
    /\ Fetch(Rec.c, Rec.p)
    /\ IF fk + 1 = Rec.b THEN PostOK(Rec) /\ Advance
                         ELSE l' = l /\ fk' = fk + 1

\* Begin, Succeed, Fail, Retry, DeadLetter: the head offset and its tries after the step.
IsHeadStep(name, A(_, _)) ==
    /\ Rec.action = name
    /\ local[Rec.c][Rec.p].base + HeadOf(Rec) - 1 = Rec.a
    /\ A(Rec.c, Rec.p)
    /\ local'[Rec.c][Rec.p].win[HeadOf(Rec)].tries = Rec.b
    /\ PostOK(Rec)
    /\ Advance

IsCommit ==
    /\ Rec.action = "Commit"
    /\ Commit(Rec.c, Rec.p)
    /\ lastAction'.args = <<Rec.c, Rec.p, Rec.epoch, Rec.a, Rec.b>>
    /\ PostOK(Rec)
    /\ Advance

IsWriteLedger ==
    /\ Rec.action = "WriteLedger"
    /\ WriteLedger(Rec.c, Rec.p)
    /\ lastAction'.args = <<Rec.c, Rec.p, Rec.epoch, Rec.a, Rec.b>>
    /\ PostOK(Rec)
    /\ Advance

IsLoseAnswer ==
    /\ Rec.action = "LoseAnswer"
    /\ Rec.b = local[Rec.c][Rec.p].writeUpTo
    /\ LoseAnswer(Rec.c, Rec.p)
    /\ PostOK(Rec)
    /\ Advance

\* The row the process read must be the spec's row at this point of the merge.
IsRecover ==
    /\ Rec.action = "Recover"
    /\ Rec.a = ledger[Rec.p].epoch
    /\ Rec.b = ledger[Rec.p].next
    /\ Recover(Rec.c, Rec.p)
    /\ PostOK(Rec)
    /\ Advance

IsCommitRejected ==
    /\ Rec.action = "CommitRejected"
    /\ Rec.a = local[Rec.c][Rec.p].epoch
    /\ CommitRejected(Rec.c, Rec.p)
    /\ PostOK(Rec)
    /\ Advance

\* Kafka rejects the commit of an old generation's member, and a commit of
\* the same offset again changes nothing: then the record is a stutter.
IsCommitBroker ==
    /\ Rec.action = "CommitBroker"
    /\ Held(Rec.c, Rec.p)
    /\ Rec.a = local[Rec.c][Rec.p].base
    /\ IF owner[Rec.p] = Rec.c /\ gen[Rec.p] = local[Rec.c][Rec.p].gen /\ brokerOffset[Rec.p] # Rec.a
          THEN CommitBroker(Rec.c, Rec.p) /\ PostOK(Rec)
          ELSE UNCHANGED vars
    /\ Advance

IsEvent ==
    \/ IsAssign
    \/ IsRevoke
    \/ IsFetch
    \/ IsHeadStep("Begin", Begin)
    \/ IsHeadStep("Succeed", Succeed)
    \/ IsHeadStep("Fail", Fail)
    \/ IsHeadStep("Retry", Retry)
    \/ IsHeadStep("DeadLetter", DeadLetter)
    \/ IsWriteLedger
    \/ IsLoseAnswer
    \/ IsRecover
    \/ IsCommit
    \/ IsCommitRejected
    \/ IsCommitBroker

\* Environment steps, taken only when the next record needs them.
GuidedEnv ==
    \/ /\ Rec.action = "Fetch"
       /\ log[Rec.p] < Rec.a + fk + 1
       /\ log[Rec.p] < TraceLogEnd[Rec.p]
       /\ Produce(Rec.p)
    \/ /\ Rec.action = "Assign"
       /\ owner[Rec.p] # Rec.c
       /\ Rebalance(Rec.p, Rec.c)
    \/ /\ Rec.action = "Revoke"
       /\ owner[Rec.p] = Rec.c
       /\ gen[Rec.p] = local[Rec.c][Rec.p].gen
       /\ Rebalance(Rec.p, NoConsumer)
    \* The database settles the write whose answer the next record takes.
    \/ /\ Rec.action \in {"Commit", "CommitRejected"}
       /\ \E w \in writes[Rec.p] : AwaitsAnswer(w, Rec.p) /\ w.c = Rec.c /\ ApplyWrite(Rec.p, w)
    \* A Recover reads a settled row: the lost write applies or is aborted first.
    \/ /\ Rec.action = "Recover"
       /\ \E w \in writes[Rec.p] :
             /\ w.c = Rec.c
             /\ w.epoch = local[Rec.c][Rec.p].epoch
             /\ ApplyWrite(Rec.p, w) \/ AbortWrite(Rec.p, w)
    \* A fence read the next a write in flight sets: that write applied before it.
    \/ /\ Rec.action = "Assign"
       /\ Rec.base > ledger[Rec.p].next
       /\ \E w \in writes[Rec.p] : w.upTo = Rec.base /\ CommitAccepted(w, Rec.p) /\ ApplyWrite(Rec.p, w)

TraceDone ==
    /\ l > Len(TraceLog)
    /\ TraceCheckEnd => \A p \in Partitions : ledger[p].next = TraceLogEnd[p]
    /\ UNCHANGED traceVars

TraceNext ==
    \/ l <= Len(TraceLog) /\ IsEvent
    \/ l <= Len(TraceLog) /\ GuidedEnv /\ UNCHANGED <<l, fk>>
    \/ TraceDone

TraceSpec == TraceInit /\ [][TraceNext]_traceVars /\ WF_traceVars(TraceNext)

\* Every record was matched (and, with TraceCheckEnd, nothing was lost).
TraceMatched == <>(l > Len(TraceLog))

\* Every state the trace reaches is a state of DCSM's safety invariants.
TraceSafetyInv == SafetyInv

\* The matched steps are DCSM steps: TraceNext without the cursor is Next or a stutter.
TraceIsDCSMProp == [][Next \/ UNCHANGED vars]_vars
=============================================================================
