(** * AliveHolderInv is preserved by every action. *)

From DCSM Require Import State Step StateLemmas IInv.

Section AliveHolderProof.
Context {params : Params}.

(** Consumer actions are taken by a live consumer, and only change its own
    [local]: every one of them is an instance of this lemma. *)
Lemma alive_holder_set_local_cp : forall s c p l,
  alive s c = true -> AliveHolderInv s -> AliveHolderInv (set_local_cp s c p l).
Proof using.
  intros s c p l Halive H d q Hd; cbn in Hd; unfold Held.
  destruct (set_local_cp_cases s c p l d q) as [(-> & -> & _) | (_ & ->)].
  - congruence.
  - apply H; exact Hd.
Qed.

Lemma alive_holder_inv_Produce : forall s p,
  IInv s -> AliveHolderInv (produce s p).
Proof using. intros s p H; apply H. Qed.

Lemma alive_holder_inv_Rebalance : forall s p oc,
  IInv s -> AliveHolderInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

(** The crashed consumer holds nothing afterwards. *)
Lemma alive_holder_inv_Crash : forall s c,
  IInv s -> AliveHolderInv (crash s c).
Proof using.
  intros s c H d q Hd; unfold Held.
  destruct (crash_local_cases s c d q) as [[-> ->] | [Hne ->]]; [cbn; congruence |].
  cbn in Hd; unfold upd_c in Hd; destruct (consumer_eq_dec d c); [contradiction |].
  apply (iinv_alive_holder s H); exact Hd.
Qed.

(** A restarting consumer held nothing while it was dead. *)
Lemma alive_holder_inv_Restart : forall s c,
  IInv s -> AliveHolderInv (restart s c).
Proof using.
  intros s c H d q Hd; cbn in Hd; unfold upd_c in Hd.
  destruct (consumer_eq_dec d c); [discriminate |].
  apply (iinv_alive_holder s H); exact Hd.
Qed.

Lemma alive_holder_inv_Assign : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (assign s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Revoke : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (revoke s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Fetch : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (fetch s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Begin : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (begin s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Succeed : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (succeed s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Fail : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (fail s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Retry : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (retry s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_DeadLetter : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (dead_letter s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_WriteLedger : forall s c p k,
  IInv s -> alive s c = true -> AliveHolderInv (write_ledger s c p k).
Proof using.
  intros s c p k H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

(** The sender's epoch is kept: only its answer may change. *)
Lemma alive_holder_inv_ApplyWrite : forall s p w,
  IInv s -> AliveHolderInv (apply_write s p w).
Proof using.
  intros s p w H d q Hd; unfold Held, apply_write in *.
  rewrite apply_write_alive in Hd; rewrite apply_write_local_epoch.
  apply (iinv_alive_holder s H); exact Hd.
Qed.

Lemma alive_holder_inv_AbortWrite : forall s p w,
  IInv s -> AliveHolderInv (abort_write s p w).
Proof using. intros s p w H; apply H. Qed.

Lemma alive_holder_inv_LoseAnswer : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (lose_answer s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Recover : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (recover s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_Commit : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (commit s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_CommitRejected : forall s c p,
  IInv s -> alive s c = true -> AliveHolderInv (commit_rejected s c p).
Proof using.
  intros s c p H Halive; apply alive_holder_set_local_cp; [exact Halive | apply H].
Qed.

Lemma alive_holder_inv_CommitBroker : forall s c p,
  IInv s -> AliveHolderInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma alive_holder_inv_PublishDeadLetter : forall s p,
  IInv s -> AliveHolderInv (publish_dead_letter s p).
Proof using. intros s p H; apply H. Qed.

Lemma alive_holder_inv_init : AliveHolderInv init.
Proof using. intros c p Hc; discriminate. Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma alive_holder_inv_step : forall s s',
  IInv s -> step s s' -> AliveHolderInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply alive_holder_inv_Produce; assumption.
  - apply alive_holder_inv_Rebalance; assumption.
  - apply alive_holder_inv_Crash; assumption.
  - apply alive_holder_inv_Restart; assumption.
  - apply alive_holder_inv_Assign; assumption.
  - apply alive_holder_inv_Revoke; assumption.
  - apply alive_holder_inv_Fetch; assumption.
  - apply alive_holder_inv_Begin; assumption.
  - apply alive_holder_inv_Succeed; assumption.
  - apply alive_holder_inv_Fail; assumption.
  - apply alive_holder_inv_Retry; assumption.
  - apply alive_holder_inv_DeadLetter; assumption.
  - apply alive_holder_inv_WriteLedger; assumption.
  - apply alive_holder_inv_ApplyWrite; assumption.
  - apply alive_holder_inv_AbortWrite; assumption.
  - apply alive_holder_inv_LoseAnswer; assumption.
  - apply alive_holder_inv_Recover; assumption.
  - apply alive_holder_inv_Commit; assumption.
  - apply alive_holder_inv_CommitRejected; assumption.
  - apply alive_holder_inv_CommitBroker; assumption.
  - apply alive_holder_inv_PublishDeadLetter; assumption.
Qed.

End AliveHolderProof.
