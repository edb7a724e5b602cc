(** * LedgerExactInv (NoDuplicateInv /\ NoGapInv) is preserved by every
    action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas WindowLemmas IInv.

Section LedgerExactProof.
Context {params : Params}.

(** ** The heart of the matter: one applied write.

    The ledger held the outcomes of exactly the offsets below [b], once
    each; the write expects [b] and carries the outcomes of exactly the
    offsets [b .. u-1], once each (WriteRangeOK).  Then the ledger holds
    exactly the offsets below [u], once each. *)
Lemma apply_outcomes_exact : forall eff dl we wd b u,
  NoDup (eff ++ dl) -> (forall o, In o (eff ++ dl) <-> o < b) ->
  NoDup (we ++ wd) -> (forall o, In o (we ++ wd) <-> b <= o < u) -> b <= u ->
  NoDup ((eff ++ we) ++ (dl ++ wd)) /\
  (forall o, In o ((eff ++ we) ++ (dl ++ wd)) <-> o < u).
Proof using.
  intros eff dl we wd b u Hnd Hrange Hwnd Hwrange Hbu; split.
  - apply nodup_app_interleave; [exact Hnd | exact Hwnd |].
    intros x Hold Hnew; apply Hrange in Hold; apply Hwrange in Hnew; lia.
  - intros o; split.
    + rewrite !in_app_iff; intros [[H | H] | [H | H]].
      * assert (o < b) by (apply Hrange, in_app_iff; auto); lia.
      * assert (b <= o < u) by (apply Hwrange, in_app_iff; auto); lia.
      * assert (o < b) by (apply Hrange, in_app_iff; auto); lia.
      * assert (b <= o < u) by (apply Hwrange, in_app_iff; auto); lia.
    + intros Ho; destruct (Nat.lt_ge_cases o b) as [Hlt | Hge].
      * apply Hrange, in_app_iff in Hlt; rewrite !in_app_iff; tauto.
      * assert (Hw : In o (we ++ wd)) by (apply Hwrange; lia).
        apply in_app_iff in Hw; rewrite !in_app_iff; tauto.
Qed.

(** Actions that leave [next], [effects], [dlq] and [dlqTopic] alone. *)
Lemma ledger_exact_frame : forall s s',
  (forall q, next (ledger s' q) = next (ledger s q)) ->
  (forall q, effects (ledger s' q) = effects (ledger s q)) ->
  (forall q, dlq (ledger s' q) = dlq (ledger s q)) ->
  (forall q, dlqTopic s' q = dlqTopic s q) ->
  LedgerExactInv s -> LedgerExactInv s'.
Proof using.
  intros s s' Hn He Hd Ht [Hnd Hng]; split; intros q;
    rewrite ?Hn, ?He, ?Hd, ?Ht; [apply Hnd | apply Hng].
Qed.

Lemma ledger_exact_inv_Produce : forall s p,
  IInv s -> LedgerExactInv (produce s p).
Proof using. intros s p H; apply H. Qed.

Lemma ledger_exact_inv_Rebalance : forall s p oc,
  IInv s -> LedgerExactInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

Lemma ledger_exact_inv_Crash : forall s c,
  IInv s -> LedgerExactInv (crash s c).
Proof using. intros s c H; apply H. Qed.

Lemma ledger_exact_inv_Restart : forall s c,
  IInv s -> LedgerExactInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The fence changes only the epoch and the writer. *)
Lemma ledger_exact_inv_Assign : forall s c p,
  IInv s -> LedgerExactInv (assign s c p).
Proof using.
  intros s c p H; apply (ledger_exact_frame s); [| | | reflexivity | apply H];
    intros q; cbn; destruct (upd_p_cases (ledger s) p (fence (ledger s p)) q)
      as [[-> ->] | [_ ->]]; reflexivity.
Qed.

Lemma ledger_exact_inv_Revoke : forall s c p,
  IInv s -> LedgerExactInv (revoke s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Fetch : forall s c p,
  IInv s -> LedgerExactInv (fetch s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Begin : forall s c p,
  IInv s -> LedgerExactInv (begin s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Succeed : forall s c p,
  IInv s -> LedgerExactInv (succeed s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Fail : forall s c p,
  IInv s -> LedgerExactInv (fail s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Retry : forall s c p,
  IInv s -> LedgerExactInv (retry s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_DeadLetter : forall s c p,
  IInv s -> LedgerExactInv (dead_letter s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_WriteLedger : forall s c p k,
  IInv s -> LedgerExactInv (write_ledger s c p k).
Proof using. intros s c p k H; apply H. Qed.

(** Applied only if the write expects the ledger's next (the [next] check):
    then [apply_outcomes_exact] applies with [b = next], [u = upTo]. *)
Lemma ledger_exact_inv_ApplyWrite : forall s p w,
  IInv s -> In w (writes s p) -> LedgerExactInv (apply_write s p w).
Proof using.
  intros s p w H Hw.
  destruct (iinv_ledger_exact s H) as [Hnd Hng].
  destruct (iinv_write_in_flight s H p) as (Hrange & _).
  destruct (Hrange w Hw) as (_ & Hlt & _ & Hwr & Hwnd).
  unfold apply_write; split; intros q;
    rewrite ?apply_write_ledger, ?apply_write_dlqTopic;
    destruct (commit_accepted_b s w p) eqn:Eok; try apply Hnd; try apply Hng;
    apply commit_accepted_b_spec in Eok; destruct Eok as [_ Hexp];
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) q)
      as [[-> ->] | [_ ->]]; try apply Hnd; try apply Hng; cbn.
  - destruct (Hnd p) as [Hnd1 Hnd2]; destruct (Hng p) as [Hng1 _].
    rewrite Hexp in Hwr.
    split; [apply (apply_outcomes_exact _ _ _ _ _ _ Hnd1 Hng1 Hwnd Hwr); lia | exact Hnd2].
  - destruct (Hnd p) as [Hnd1 _]; destruct (Hng p) as [Hng1 Hng2].
    rewrite Hexp in Hwr.
    split; [apply (apply_outcomes_exact _ _ _ _ _ _ Hnd1 Hng1 Hwnd Hwr); lia |].
    intros o Ho; apply in_app_iff; left; apply Hng2; exact Ho.
Qed.

Lemma ledger_exact_inv_AbortWrite : forall s p w,
  IInv s -> LedgerExactInv (abort_write s p w).
Proof using. intros s p w H; apply H. Qed.

Lemma ledger_exact_inv_LoseAnswer : forall s c p,
  IInv s -> LedgerExactInv (lose_answer s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Recover : forall s c p,
  IInv s -> LedgerExactInv (recover s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_Commit : forall s c p,
  IInv s -> LedgerExactInv (commit s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_CommitRejected : forall s c p,
  IInv s -> LedgerExactInv (commit_rejected s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma ledger_exact_inv_CommitBroker : forall s c p,
  IInv s -> LedgerExactInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

(** The relay appends the next outbox entry: the topic stays a prefix of the
    duplicate-free outbox (OutboxPrefixInv), hence duplicate-free and within
    it. *)
Lemma ledger_exact_inv_PublishDeadLetter : forall s p,
  IInv s -> length (dlqTopic s p) < length (dlq (ledger s p)) ->
  LedgerExactInv (publish_dead_letter s p).
Proof using.
  intros s p H Hlen.
  destruct (iinv_ledger_exact s H) as [Hnd Hng].
  pose proof (prefix_snoc _ _ 0 (iinv_outbox_prefix s H p) Hlen) as Hpre.
  split; intros q; cbn;
    destruct (upd_p_cases (dlqTopic s) p
      (dlqTopic s p ++ [nth (length (dlqTopic s p)) (dlq (ledger s p)) 0]) q)
      as [[-> ->] | [_ ->]]; [| apply Hnd | | apply Hng].
  - split; [apply Hnd |].
    apply (prefix_nodup _ _ Hpre), (nodup_app_r (effects (ledger s p))), Hnd.
  - split; [apply Hng |].
    intros o; apply prefix_in, Hpre.
Qed.

Lemma ledger_exact_inv_init : LedgerExactInv init.
Proof using.
  split; intros p; cbn; split.
  - constructor.
  - constructor.
  - intros o; split; [intros [] | lia].
  - intros o [].
Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma ledger_exact_inv_step : forall s s',
  IInv s -> step s s' -> LedgerExactInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply ledger_exact_inv_Produce; assumption.
  - apply ledger_exact_inv_Rebalance; assumption.
  - apply ledger_exact_inv_Crash; assumption.
  - apply ledger_exact_inv_Restart; assumption.
  - apply ledger_exact_inv_Assign; assumption.
  - apply ledger_exact_inv_Revoke; assumption.
  - apply ledger_exact_inv_Fetch; assumption.
  - apply ledger_exact_inv_Begin; assumption.
  - apply ledger_exact_inv_Succeed; assumption.
  - apply ledger_exact_inv_Fail; assumption.
  - apply ledger_exact_inv_Retry; assumption.
  - apply ledger_exact_inv_DeadLetter; assumption.
  - apply ledger_exact_inv_WriteLedger; assumption.
  - apply ledger_exact_inv_ApplyWrite; assumption.
  - apply ledger_exact_inv_AbortWrite; assumption.
  - apply ledger_exact_inv_LoseAnswer; assumption.
  - apply ledger_exact_inv_Recover; assumption.
  - apply ledger_exact_inv_Commit; assumption.
  - apply ledger_exact_inv_CommitRejected; assumption.
  - apply ledger_exact_inv_CommitBroker; assumption.
  - apply ledger_exact_inv_PublishDeadLetter; assumption.
Qed.

End LedgerExactProof.
