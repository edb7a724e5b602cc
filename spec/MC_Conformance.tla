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
(* DCSM leaves three of the consumer's own decisions free; an              *)
(* implementation must fix them for a vector to say what it emits, and     *)
(* this module fixes them the way conformance/PROTOCOL.md states:          *)
(*  1. Begin and DeadLetter are taken at once, inside the step of the      *)
(*     input that enabled them (no other step may come between).           *)
(*  2. CommitBroker follows its own Commit at once, and never otherwise.   *)
(*  3. At most one WriteLedger is in flight, for the finished prefix as it *)
(*     stood when it was issued.  A slot finishes one per input, so with   *)
(*     Window <= 2 every Commit covers exactly one offset.                 *)
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

ASSUME Window <= 2   \* rule 3 as written below depends on it

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

\* Rule 2: the step before was Tested's Commit of p.
AfterCommit(p) ==
    /\ lastAction.name = "Commit"
    /\ lastAction.args[1] = Tested
    /\ lastAction.args[2] = p

Decision(p) ==
    \/ MustBegin(p) /\ Begin(Tested, p)
    \/ MustDeadLetter(p) /\ DeadLetter(Tested, p)
    \/ AfterCommit(p) /\ CommitBroker(Tested, p)

Undecided == \E p \in Partitions : ENABLED Decision(p)

\* Rule 3: Commit of the one offset the write in flight covers.
TestedCommit(p) ==
    /\ Commit(Tested, p)
    /\ ledger'[p].next = local[Tested][p].base + 1

\* The inputs of the implementation under test (conformance/PROTOCOL.md).
TestedInput(p) ==
    \/ Assign(Tested, p)
    \/ Revoke(Tested, p)
    \/ Fetch(Tested, p)
    \/ Succeed(Tested, p)
    \/ Fail(Tested, p)
    \/ Retry(Tested, p)
    \/ TestedCommit(p)
    \/ CommitRejected(Tested, p)

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
\*    makes Tested a zombie) and never gives it back.
AllProduced    == \A p \in Partitions : log[p] = MaxOffset
RelayBehind(p) == Len(dlqTopic[p]) < Len(ledger[p].dlq)

Harness ==
    \/ \E p \in Partitions, c \in Consumers : c # owner[p] /\ Rebalance(p, c)
    \/ \E p \in Partitions :
          /\ Len(TestedWin(p)) > 0
          /\ lastAction.args[1] = Tested
          /\ Crash(Tested)
    \/ \E p \in Partitions : Held(Tested, p) /\ Assign(Fencer, p)

ConformanceNext ==
    IF ~AllProduced THEN \E p \in Partitions : Produce(p)
    ELSE IF ~alive[Tested] THEN Restart(Tested)
    ELSE IF Undecided THEN \E p \in Partitions : Decision(p)
    ELSE IF \E p \in Partitions : RelayBehind(p) THEN \E p \in Partitions : PublishDeadLetter(p)
    ELSE \/ Harness
         \/ \E p \in Partitions : TestedInput(p)

ConformanceSpec == Init /\ [][ConformanceNext]_vars
=============================================================================
