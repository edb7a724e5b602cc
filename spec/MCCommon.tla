------------------------------ MODULE MCCommon ------------------------------
(***************************************************************************)
(* Shared by every MC_* configuration: model values, symmetry, the view    *)
(* that leaves the lastAction history out of state fingerprints, and       *)
(* budgets that bound the otherwise unbounded counters.  Bounds only: no   *)
(* definition here changes what DCSM allows, only how much of it TLC       *)
(* explores.                                                               *)
(***************************************************************************)
EXTENDS DCSM, TLC

CONSTANTS
    c1, c2, c3,   \* model values for consumers
    p1, p2,       \* model values for partitions
    MaxEpochSum,  \* fences issued over all partitions (each Assign issues one)
    MaxGenSum,    \* generations over all partitions (each Rebalance is one)
    MaxLogSum     \* records produced over all partitions

RECURSIVE SumOver(_, _)
SumOver(f, S) ==
    IF S = {} THEN 0
    ELSE LET x == CHOOSE x \in S : TRUE IN f[x] + SumOver(f, S \ {x})

Budget ==
    /\ SumOver([p \in Partitions |-> ledger[p].epoch], Partitions) <= MaxEpochSum
    /\ SumOver(gen, Partitions) <= MaxGenSum
    /\ SumOver(log, Partitions) <= MaxLogSum

\* An action constraint for configs that leave the lost-answer faults to
\* MC_LostAnswer: every other behaviour of DCSM, with no answer lost and no
\* write aborted.  (Bounds only: it removes behaviours, allows none.)
NoLostAnswers == lastAction'.name \notin {"LoseAnswer", "AbortWrite"}

\* An action constraint for the broad configs: a write in the database is
\* settled (ApplyWrite), and an answer that arrived is taken (Commit,
\* CommitRejected), before anything happens but the steps whose race with
\* a write or an answer in flight changes an outcome: a crash, a fence
\* (Assign) and a revocation.  Every other step commutes with ApplyWrite
\* and with taking the answer, so this keeps MC_Safety's and
\* MC_SafetyDeep's breadth within budget; the full interleaving of writes
\* and answers in flight is checked by MC_LostAnswer and MC_Liveness.  It
\* reads only variables of StateView (and the step's own label), so it is
\* sound under that VIEW.
WriteInFlight ==
    \/ \E p \in Partitions : writes[p] # {}
    \/ \E c \in Consumers, p \in Partitions : local[c][p].answer \in {Committed, Rejected}

WritesSettleSoon ==
    WriteInFlight =>
        lastAction'.name \in {"ApplyWrite", "Commit", "CommitRejected", "Crash", "Assign", "Revoke"}

\* Consumers are interchangeable, and so are partitions: every invariant
\* quantifies over all of them alike.  Not used for liveness.
Symmetry == Permutations(Consumers) \cup Permutations(Partitions)

\* lastAction is history: no action reads it, so states that differ only in
\* it have the same futures.  Invariants checked under this view must not
\* mention lastAction (none of DCSM's do).
StateView == <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes, local>>
=============================================================================
