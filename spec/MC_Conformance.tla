--------------------------- MODULE MC_Conformance ---------------------------
(***************************************************************************)
(* The state graph that conformance/ generates its test vectors from.      *)
(*                                                                         *)
(* An implementation under test is ONE consumer process: the spec's        *)
(* local[Tested].  Everything else -- producers, the coordinator, the      *)
(* ledger, the relay and a second process Fencer that only takes the      *)
(* partition (fencing Tested's epoch, so CommitRejected is reachable) --   *)
(* is played by the conformance harness.                                   *)
(*                                                                         *)
(* DCSM leaves four of the consumer's own decisions free; an              *)
(* implementation must fix them for a vector to say what it emits, and     *)
(* this module fixes them the way conformance/PROTOCOL.md states:          *)
(*  1. Begin and DeadLetter are taken at once, inside the step of the      *)
(*     input that enabled them (no other step may come between).           *)
(*  2. CommitBroker follows its own Commit at once, and never otherwise;   *)
(*     Commit or CommitRejected follows at once a Recover that decided     *)
(*     Committed or Rejected (the core does all of it for LedgerRead).     *)
(*  3. WriteLedger is issued at the end of the step (the Ready point),     *)
(*     after the decisions of rule 1 and 2, whenever no write is in flight *)
(*     and the finished prefix is not empty, for the whole finished        *)
(*     prefix.                                                             *)
(* Rule 4 schedules the harness (see Harness below).  The rules only       *)
(* remove behaviours (each step is still a step of Next), so every path of *)
(* this graph is a behaviour of DCSM.                                      *)
(*                                                                         *)
(* No VIEW and no SYMMETRY: the dumped graph is the real one, and          *)
(* lastAction (read by rule 2) names the action of every edge.             *)
(***************************************************************************)
EXTENDS MCCommon

Tested == c1   \* the consumer process the implementation under test plays
Fencer == c2   \* a harness process that only takes the partition (fencing Tested)

TestedWin(p)  == local[Tested][p].win
TestedHead(p) == TestedWin(p)[HeadIndex(TestedWin(p))]

\* Rule 1: the head is startable, or failed with its retries spent.
MustBegin(p) ==
    /\ Held(Tested, p)
    /\ HasHead(TestedWin(p))
    /\ TestedHead(p).st = Pending
MustDeadLetter(p) ==
    /\ Held(Tested, p)
    /\ HasHead(TestedWin(p))
    /\ TestedHead(p).st = Failed
    /\ TestedHead(p).tries > MaxRetries

\* Rule 2: the step before was Tested's Commit of p, or its Recover of p.
After(name, p) ==
    /\ lastAction.name = name
    /\ lastAction.args[1] = Tested
    /\ lastAction.args[2] = p

\* Rule 3: the Ready point issues the write of the whole finished prefix.
MustWrite(p) ==
    /\ Held(Tested, p)
    /\ local[Tested][p].writeUpTo = 0
    /\ FinishedPrefixLen(TestedWin(p)) > 0

TestedWrite(p) ==
    /\ WriteLedger(Tested, p)
    /\ local'[Tested][p].writeUpTo = local[Tested][p].base + FinishedPrefixLen(TestedWin(p))

InStepDecision(p) ==
    \/ MustBegin(p) /\ Begin(Tested, p)
    \/ MustDeadLetter(p) /\ DeadLetter(Tested, p)
    \/ After("Commit", p) /\ CommitBroker(Tested, p)
    \/ After("Recover", p) /\ (Commit(Tested, p) \/ CommitRejected(Tested, p))

Decision ==
    IF \E p \in Partitions : ENABLED InStepDecision(p)
        THEN \E p \in Partitions : InStepDecision(p)
        ELSE \E p \in Partitions : MustWrite(p) /\ TestedWrite(p)

Undecided ==
    \/ \E p \in Partitions : ENABLED InStepDecision(p)
    \/ \E p \in Partitions : MustWrite(p)

\* The inputs of the implementation under test (conformance/PROTOCOL.md):
\* Assigned, Revoked, Fetched, HandlerSucceeded, HandlerFailed, Tick (Retry),
\* LedgerCommitted, LedgerRejected, LedgerRead (Recover); LedgerUnknown
\* (LoseAnswer) is scheduled with the write it loses the answer of, below.
TestedInput(p) ==
    \/ Assign(Tested, p)
    \/ Revoke(Tested, p)
    \/ Fetch(Tested, p)
    \/ Succeed(Tested, p)
    \/ Fail(Tested, p)
    \/ Retry(Tested, p)
    \/ Commit(Tested, p)
    \/ CommitRejected(Tested, p)
    \/ Recover(Tested, p)

\* The harness, scheduled so that only what Tested can tell apart branches
\* (rule 4).  None of it is visible to Tested except through its inputs,
\* which stay free:
\*  - producers write every record before anything else happens;
\*  - a crashed Tested restarts at once (it has no state to tell the wait);
\*  - the relay publishes a committed dead letter at once;
\*  - a Rebalance always moves the partition (one that keeps the owner looks
\*    to Tested like a move away and back);
\*  - Tested crashes only right after one of its own inputs, with records in
\*    its window (where harness actions fall around a crash, and a crash
\*    that only loses an Assign, look the same to it);
\*  - Fencer takes the partition only while Tested holds it (that is what
\*    makes Tested a zombie) and never gives it back;
\*  - a write is settled as soon as it is sent: the database applies or
\*    refuses it (ApplyWrite) at once, unless, first, its answer is lost
\*    (LoseAnswer) or Tested crashes; a write whose answer nobody waits for
\*    any more is then applied or aborted (AbortWrite) at once, as the
\*    runtime terminates the backend before it reads the row.  (When in
\*    the write's flight Fencer's fence falls is told apart by the answer
\*    alone, and that the ordering below keeps: a fence before the write
\*    makes it refused, one after it makes Recover read a moved row.)
AllProduced    == \A p \in Partitions : log[p] = MaxOffset
RelayBehind(p) == Len(dlqTopic[p]) < Len(ledger[p].dlq)

Harness ==
    \/ \E p \in Partitions, c \in Consumers : c # owner[p] /\ Rebalance(p, c)
    \/ \E p \in Partitions :
          /\ Len(TestedWin(p)) > 0
          /\ lastAction.args[1] = Tested
          /\ Crash(Tested)
    \/ \E p \in Partitions : Held(Tested, p) /\ Assign(Fencer, p)

InFlight(p) == writes[p] # {}

\* A write just sent: applied at once, or its answer lost first, or its sender crashed.
SettleAwaited(p) ==
    \/ \E w \in writes[p] : ApplyWrite(p, w)
    \/ LoseAnswer(Tested, p)
    \/ Crash(Tested)

\* A write nobody waits for the answer of: applied or aborted at once.
SettleOrphan(p) == \E w \in writes[p] : ApplyWrite(p, w) \/ AbortWrite(p, w)

Orphaned(p) == \E w \in writes[p] : ~AwaitsAnswer(w, p)

ConformanceNext ==
    IF ~AllProduced THEN \E p \in Partitions : Produce(p)
    ELSE IF \E p \in Partitions : Orphaned(p) THEN \E p \in Partitions : Orphaned(p) /\ SettleOrphan(p)
    ELSE IF ~alive[Tested] THEN Restart(Tested)
    ELSE IF Undecided THEN Decision
    ELSE IF \E p \in Partitions : InFlight(p) THEN \E p \in Partitions : InFlight(p) /\ SettleAwaited(p)
    ELSE IF \E p \in Partitions : RelayBehind(p) THEN \E p \in Partitions : PublishDeadLetter(p)
    ELSE \/ Harness
         \/ \E p \in Partitions : TestedInput(p)

ConformanceSpec == Init /\ [][ConformanceNext]_vars
=============================================================================
