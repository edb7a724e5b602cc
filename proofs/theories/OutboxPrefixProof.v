(** * OutboxPrefixInv is preserved by every action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas IInv.

Section OutboxPrefixProof.
Context {params : Params}.

Lemma outbox_prefix_inv_Produce : forall s p,
  IInv s -> OutboxPrefixInv (produce s p).
Proof using. intros s p H; apply H. Qed.

Lemma outbox_prefix_inv_Rebalance : forall s p oc,
  IInv s -> OutboxPrefixInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

Lemma outbox_prefix_inv_Crash : forall s c,
  IInv s -> OutboxPrefixInv (crash s c).
Proof using. intros s c H; apply H. Qed.

Lemma outbox_prefix_inv_Restart : forall s c,
  IInv s -> OutboxPrefixInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The fence leaves the outbox alone. *)
Lemma outbox_prefix_inv_Assign : forall s c p,
  IInv s -> OutboxPrefixInv (assign s c p).
Proof using.
  intros s c p H q; cbn.
  destruct (upd_p_cases (ledger s) p (fence (ledger s p)) q) as [[-> ->] | [_ ->]];
    apply H.
Qed.

Lemma outbox_prefix_inv_Revoke : forall s c p,
  IInv s -> OutboxPrefixInv (revoke s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Fetch : forall s c p,
  IInv s -> OutboxPrefixInv (fetch s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Begin : forall s c p,
  IInv s -> OutboxPrefixInv (begin s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Succeed : forall s c p,
  IInv s -> OutboxPrefixInv (succeed s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Fail : forall s c p,
  IInv s -> OutboxPrefixInv (fail s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Retry : forall s c p,
  IInv s -> OutboxPrefixInv (retry s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_DeadLetter : forall s c p,
  IInv s -> OutboxPrefixInv (dead_letter s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_WriteLedger : forall s c p k,
  IInv s -> OutboxPrefixInv (write_ledger s c p k).
Proof using. intros s c p k H; apply H. Qed.

(** An applied write only appends to the outbox. *)
Lemma outbox_prefix_inv_ApplyWrite : forall s p w,
  IInv s -> OutboxPrefixInv (apply_write s p w).
Proof using.
  intros s p w H q; unfold apply_write; rewrite apply_write_ledger, apply_write_dlqTopic.
  destruct (commit_accepted_b s w p); [| apply H].
  destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) q)
    as [[-> ->] | [_ ->]]; [| apply H].
  apply prefix_app_r, H.
Qed.

Lemma outbox_prefix_inv_AbortWrite : forall s p w,
  IInv s -> OutboxPrefixInv (abort_write s p w).
Proof using. intros s p w H; apply H. Qed.

Lemma outbox_prefix_inv_LoseAnswer : forall s c p,
  IInv s -> OutboxPrefixInv (lose_answer s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Recover : forall s c p,
  IInv s -> OutboxPrefixInv (recover s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_Commit : forall s c p,
  IInv s -> OutboxPrefixInv (commit s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_CommitRejected : forall s c p,
  IInv s -> OutboxPrefixInv (commit_rejected s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma outbox_prefix_inv_CommitBroker : forall s c p,
  IInv s -> OutboxPrefixInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

(** The relay copies the outbox entry at the topic's length. *)
Lemma outbox_prefix_inv_PublishDeadLetter : forall s p,
  IInv s -> length (dlqTopic s p) < length (dlq (ledger s p)) ->
  OutboxPrefixInv (publish_dead_letter s p).
Proof using.
  intros s p H Hlen q; cbn.
  destruct (upd_p_cases (dlqTopic s) p
    (dlqTopic s p ++ [nth (length (dlqTopic s p)) (dlq (ledger s p)) 0]) q)
    as [[-> ->] | [_ ->]]; [| apply H].
  apply prefix_snoc; [apply H | exact Hlen].
Qed.

Lemma outbox_prefix_inv_init : OutboxPrefixInv init.
Proof using. intros p; apply prefix_nil. Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma outbox_prefix_inv_step : forall s s',
  IInv s -> step s s' -> OutboxPrefixInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply outbox_prefix_inv_Produce; assumption.
  - apply outbox_prefix_inv_Rebalance; assumption.
  - apply outbox_prefix_inv_Crash; assumption.
  - apply outbox_prefix_inv_Restart; assumption.
  - apply outbox_prefix_inv_Assign; assumption.
  - apply outbox_prefix_inv_Revoke; assumption.
  - apply outbox_prefix_inv_Fetch; assumption.
  - apply outbox_prefix_inv_Begin; assumption.
  - apply outbox_prefix_inv_Succeed; assumption.
  - apply outbox_prefix_inv_Fail; assumption.
  - apply outbox_prefix_inv_Retry; assumption.
  - apply outbox_prefix_inv_DeadLetter; assumption.
  - apply outbox_prefix_inv_WriteLedger; assumption.
  - apply outbox_prefix_inv_ApplyWrite; assumption.
  - apply outbox_prefix_inv_AbortWrite; assumption.
  - apply outbox_prefix_inv_LoseAnswer; assumption.
  - apply outbox_prefix_inv_Recover; assumption.
  - apply outbox_prefix_inv_Commit; assumption.
  - apply outbox_prefix_inv_CommitRejected; assumption.
  - apply outbox_prefix_inv_CommitBroker; assumption.
  - apply outbox_prefix_inv_PublishDeadLetter; assumption.
Qed.

End OutboxPrefixProof.
