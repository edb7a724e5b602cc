---------------------------- MODULE MC_Liveness ----------------------------
(***************************************************************************)
(* CompletenessProp under weak fairness of the consumer actions.  TLC's    *)
(* state constraints cut behaviours short, which liveness checking cannot  *)
(* tolerate, so this model bounds the environment inside its next-state    *)
(* relation instead: producing stops at MaxLogSum records, and rebalances  *)
(* and crashes stop once MaxEpochSum fences have been issued.  Consumer    *)
(* actions are never bounded: every one DCSM allows stays allowed.         *)
(***************************************************************************)
EXTENDS MCCommon

FencesIssued == SumOver([p \in Partitions |-> ledger[p].epoch], Partitions)

BoundedEnvStep ==
    \/ \E p \in Partitions : Produce(p) /\ SumOver(log', Partitions) <= MaxLogSum
    \/ /\ FencesIssued < MaxEpochSum
       /\ \/ \E p \in Partitions, c \in Consumers \cup {NoConsumer} :
                Rebalance(p, c) /\ SumOver(gen', Partitions) <= MaxGenSum
          \/ \E c \in Consumers : Crash(c)
    \/ \E c \in Consumers : Restart(c)
    \* Lost answers and aborted writes create no new values (no counter grows),
    \* so they need no bound: a behaviour that repeats them forever violates
    \* CompletenessProp's premise, and is the only way they can stall it.
    \/ \E c \in Consumers, p \in Partitions : LoseAnswer(c, p)
    \/ \E p \in Partitions : \E w \in writes[p] : AbortWrite(p, w)

LiveNext ==
    \/ BoundedEnvStep
    \/ \E p \in Partitions : LedgerStepWith(p, ApplyWrite)
    \/ \E c \in Consumers, p \in Partitions : ConsumerStep(c, p)

MCLiveSpec == Init /\ [][LiveNext]_vars /\ Fairness
=============================================================================
