------------------- MODULE MC_Mutant_BrokerOffsetRecovery -------------------
(***************************************************************************)
(* Known-wrong design: fenced ledger appends without the next check, and   *)
(* recovery from the Kafka group offset.  The broker offset is committed   *)
(* after the ledger, so it lags it; a new holder that resumes from the     *)
(* broker offset processes records the ledger already holds, and the       *)
(* ledger appends them again because it does not compare next.             *)
(* TLC must refute NoDuplicateInv.                                         *)
(***************************************************************************)
EXTENDS MCCommon

\* Assign fences as DCSM does, but resumes from the broker offset.
AssignFromBroker(c, p) ==
    /\ alive[c]
    /\ owner[p] = c
    /\ ~Held(c, p)
    /\ LET e == ledger[p].epoch + 1 IN
          /\ ledger' = [ledger EXCEPT ![p].epoch = e, ![p].writer = 0]
          /\ local' = [local EXCEPT ![c][p] = LocalRec(e, gen[p], brokerOffset[p], <<>>)]
          /\ lastAction' = Label("Assign", <<c, p, e, brokerOffset[p]>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

\* Commit checks the epoch only, and appends.
CommitAppend(c, p) ==
    /\ alive[c]
    /\ Held(c, p)
    /\ local[c][p].epoch = ledger[p].epoch
    /\ \E k \in 1..FinishedPrefixLen(local[c][p].win) :
          LET l == local[c][p]
              upTo == l.base + k
          IN /\ ledger' = [ledger EXCEPT
                   ![p].next = upTo,
                   ![p].writer = l.epoch,
                   ![p].effects = @ \o OffsetsIn(l.base, l.win, k, Done),
                   ![p].dlq = @ \o OffsetsIn(l.base, l.win, k, DeadLettered)]
             /\ local' = [local EXCEPT ![c][p].base = upTo,
                                       ![c][p].win = SubSeq(@, k + 1, Len(@))]
             /\ lastAction' = Label("Commit", <<c, p, l.epoch, l.base, upTo>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic>>

MutantSpec == Init /\ [][NextWith(AssignFromBroker, Succeed, CommitAppend)]_vars
=============================================================================
