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

\* Consumers are interchangeable, and so are partitions: every invariant
\* quantifies over all of them alike.  Not used for liveness.
Symmetry == Permutations(Consumers) \cup Permutations(Partitions)

\* lastAction is history: no action reads it, so states that differ only in
\* it have the same futures.  Invariants checked under this view must not
\* mention lastAction (none of DCSM's do).
StateView == <<log, owner, gen, alive, brokerOffset, ledger, dlqTopic, writes, local>>
=============================================================================
