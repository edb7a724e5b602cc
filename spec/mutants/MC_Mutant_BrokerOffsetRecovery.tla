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
          /\ local' = [local EXCEPT ![c][p] = LocalRec(e, gen[p], brokerOffset[p], <<>>, 0, NoAnswer)]
          /\ lastAction' = Label("Assign", <<c, p, e, brokerOffset[p]>>)
    /\ UNCHANGED <<log, owner, gen, alive, brokerOffset, dlqTopic, writes>>

\* The ledger checks the epoch only, and appends.
EpochOnly(w, p) == w.epoch = ledger[p].epoch

ApplyAppend(p, w) == ApplyWriteWith(p, w, EpochOnly)

MutantSpec == Init /\ [][NextWith(AssignFromBroker, Succeed, WriteLedger, ApplyAppend, Recover)]_vars
=============================================================================
