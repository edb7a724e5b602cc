--------------------- MODULE MC_Mutant_CommitFullBatchOnly ---------------------
(***************************************************************************)
(* Known-wrong design (liveness): group commit that waits for a full       *)
(* batch.  Commit only runs once the whole window is finished, with no     *)
(* flush of a partial batch, so the tail of a partition whose length is    *)
(* not a multiple of the window is never committed.  Safety holds; TLC     *)
(* must refute CompletenessProp.                                           *)
(***************************************************************************)
EXTENDS MC_Liveness

CommitFullBatch(c, p) ==
    /\ FinishedPrefixLen(local[c][p].win) = Window
    /\ Commit(c, p)

MutantLiveNext ==
    \/ BoundedEnvStep
    \/ \E p \in Partitions : PublishDeadLetter(p)
    \/ \E c \in Consumers, p \in Partitions :
          ConsumerStepWith(c, p, Assign, Succeed, CommitFullBatch)

MutantLiveSpec ==
    /\ Init
    /\ [][MutantLiveNext]_vars
    \* DCSM's Fairness with CommitFullBatch in place of Commit.
    /\ \A p \in Partitions : WF_vars(PublishDeadLetter(p))
    /\ \A c \in Consumers, p \in Partitions :
          /\ WF_vars(Assign(c, p))
          /\ WF_vars(Revoke(c, p))
          /\ WF_vars(Fetch(c, p))
          /\ WF_vars(Begin(c, p))
          /\ WF_vars(Succeed(c, p))
          /\ WF_vars(Retry(c, p))
          /\ WF_vars(DeadLetter(c, p))
          /\ WF_vars(CommitFullBatch(c, p))
          /\ WF_vars(CommitRejected(c, p))
=============================================================================
