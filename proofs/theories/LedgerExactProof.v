(** * LedgerExactInv (NoDuplicateInv /\ NoGapInv) is preserved by every
    action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas WindowLemmas IInv.

Section LedgerExactProof.
Context {params : Params}.

(** ** The heart of the matter: one accepted commit.

    The ledger held the outcomes of exactly the offsets below [b], once
    each; the committer's window starts at [b] and its first [k] slots are
    finished.  Then the offsets [b .. b+k-1] are appended, each once, either
    to [effects] (Done) or to [dlq] (DeadLettered), and the ledger holds
    exactly the offsets below [b + k]. *)
Lemma commit_outcomes_exact : forall eff dl b w k,
  NoDup (eff ++ dl) -> (forall o, In o (eff ++ dl) <-> o < b) ->
  k <= FinishedPrefixLen w ->
  NoDup ((eff ++ OffsetsIn b w k Done) ++ (dl ++ OffsetsIn b w k DeadLettered)) /\
  (forall o, In o ((eff ++ OffsetsIn b w k Done) ++ (dl ++ OffsetsIn b w k DeadLettered))
             <-> o < b + k).
Proof using.
  intros eff dl b w k Hnd Hrange Hk; split.
  - apply nodup_app_interleave; [exact Hnd | |].
    + (* an offset is committed as Done or as DeadLettered, not both *)
      apply nodup_app_intro; try apply offsets_in_nodup.
      intros x Hd Hl; pose proof (offsets_in_state_unique k w b _ _ x Hd Hl); discriminate.
    + (* old outcomes are below b, new ones from b on *)
      intros x Hold Hnew; apply Hrange in Hold.
      apply in_app_iff in Hnew as [Hnew | Hnew]; apply offsets_in_bounds in Hnew; lia.
  - intros o; rewrite !in_app_iff; split.
    + intros [[H | H] | [H | H]];
        try (apply offsets_in_bounds in H; lia);
        (assert (o < b) by (apply Hrange, in_app_iff; auto); lia).
    + intros Ho; destruct (Nat.lt_ge_cases o b) as [Hlt | Hge].
      * apply Hrange, in_app_iff in Hlt; tauto.
      * destruct (offsets_in_cover k w b o Hk) as [H | H]; [lia | auto | auto].
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

(** Accepted only if the window starts at the ledger's next (the [next]
    check): then [commit_outcomes_exact] applies with [b = next]. *)
Lemma ledger_exact_inv_Commit : forall s c p k,
  IInv s -> CommitAccepted s c p ->
  1 <= k <= FinishedPrefixLen (win (local s c p)) ->
  LedgerExactInv (commit s c p k).
Proof using.
  intros s c p k H [_ Hbase] Hk.
  destruct (iinv_ledger_exact s H) as [Hnd Hng].
  split; intros q; cbn;
    destruct (upd_p_cases (ledger s) p (commit_ledger (ledger s p) (local s c p) k) q)
      as [[-> ->] | [_ ->]]; [| apply Hnd | | apply Hng].
  - destruct (Hnd p) as [Hnd1 Hnd2]; destruct (Hng p) as [Hng1 _].
    rewrite <- Hbase in Hng1; cbn.
    split; [apply commit_outcomes_exact; [exact Hnd1 | exact Hng1 | lia] | exact Hnd2].
  - destruct (Hnd p) as [Hnd1 _]; destruct (Hng p) as [Hng1 Hng2].
    rewrite <- Hbase in Hng1; cbn.
    split; [apply commit_outcomes_exact; [exact Hnd1 | exact Hng1 | lia] |].
    intros o Ho; apply in_app_iff; left; apply Hng2; exact Ho.
Qed.

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
  - apply ledger_exact_inv_Commit; assumption.
  - apply ledger_exact_inv_CommitRejected; assumption.
  - apply ledger_exact_inv_CommitBroker; assumption.
  - apply ledger_exact_inv_PublishDeadLetter; assumption.
Qed.

End LedgerExactProof.
