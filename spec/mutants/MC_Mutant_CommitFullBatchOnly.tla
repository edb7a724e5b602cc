--------------------- MODULE MC_Mutant_CommitFullBatchOnly ---------------------
(***************************************************************************)
(* Known-wrong design (liveness): group commit that waits for a full       *)
(* batch.  WriteLedger only runs once the whole window is finished, with   *)
(* no flush of a partial batch, so the tail of a partition whose length is *)
(* not a multiple of the window is never committed.  Safety holds; TLC     *)
(* must refute CompletenessProp.                                           *)
(***************************************************************************)
EXTENDS MC_Liveness

WriteFullBatch(c, p) ==
    /\ FinishedPrefixLen(local[c][p].win) = Window
    /\ WriteLedger(c, p)

MutantLiveNext ==
    \/ BoundedEnvStep
    \/ \E p \in Partitions : LedgerStepWith(p, ApplyWrite)
    \/ \E c \in Consumers, p \in Partitions :
          ConsumerStepWith(c, p, Assign, Succeed, WriteFullBatch, Recover)

MutantLiveSpec ==
    /\ Init
    /\ [][MutantLiveNext]_vars
    \* DCSM's Fairness with WriteFullBatch in place of WriteLedger.
    /\ \A p \in Partitions :
          /\ WF_vars(\E w \in writes[p] : ApplyWrite(p, w))
          /\ WF_vars(PublishDeadLetter(p))
    /\ \A c \in Consumers, p \in Partitions :
          /\ WF_vars(Assign(c, p))
          /\ WF_vars(Revoke(c, p))
          /\ WF_vars(Fetch(c, p))
          /\ WF_vars(Begin(c, p))
          /\ WF_vars(Succeed(c, p))
          /\ WF_vars(Retry(c, p))
          /\ WF_vars(DeadLetter(c, p))
          /\ WF_vars(WriteFullBatch(c, p))
          /\ WF_vars(Recover(c, p))
          /\ WF_vars(Commit(c, p))
          /\ WF_vars(CommitRejected(c, p))
=============================================================================
