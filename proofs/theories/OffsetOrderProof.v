(** * OffsetOrderInv is preserved by every action. *)

From Coq Require Import List Arith Bool Lia.
Import ListNotations.
From DCSM Require Import State Step StateLemmas WindowLemmas IInv.

Section OffsetOrderProof.
Context {params : Params}.

(** An action that changes no offset and only drops or keeps consumers'
    views (Crash, Revoke, CommitRejected) preserves OffsetOrderInv: the
    facts about holders are about views that did not change. *)
Lemma offset_order_frame_local : forall s s',
  log s' = log s -> brokerOffset s' = brokerOffset s -> ledger s' = ledger s ->
  (forall d q, local s' d q = local s d q \/ local s' d q = NotHeld) ->
  OffsetOrderInv s -> OffsetOrderInv s'.
Proof using.
  intros s s' Hlog Hbo Hled Hloc H p; unfold HolderOrderOK; rewrite Hlog, Hbo, Hled.
  destruct (H p) as (Ha & Hb & Hc); split; [exact Ha | split; [exact Hb |]].
  intros d; destruct (Hloc d p) as [-> | ->]; [apply Hc | cbn; congruence].
Qed.

(** Replacing one view by one that satisfies HolderOrderOK. *)
Lemma offset_order_set_local_cp : forall s c p l,
  HolderOrderOK s l p -> OffsetOrderInv s -> OffsetOrderInv (set_local_cp s c p l).
Proof using.
  intros s c p l Hl H q; destruct (H q) as (Ha & Hb & Hc).
  split; [exact Ha | split; [exact Hb |]].
  intros d; destruct (set_local_cp_cases s c p l d q) as [(-> & -> & ->) | (_ & ->)];
    [exact Hl | apply Hc].
Qed.

Lemma offset_order_drop : forall s c p,
  OffsetOrderInv s -> OffsetOrderInv (set_local_cp s c p NotHeld).
Proof using.
  intros s c p H; apply (offset_order_frame_local s); auto.
  intros d q; destruct (set_local_cp_cases s c p NotHeld d q) as [(_ & _ & ->) | (_ & ->)];
    auto.
Qed.

(** A window update keeps base and epoch; it only has to keep the position
    within the log. *)
Lemma offset_order_set_win : forall s c p w,
  (Held s c p -> base (local s c p) + length w <= log s p) ->
  OffsetOrderInv s -> OffsetOrderInv (set_win s c p w).
Proof using.
  intros s c p w Hw H q; unfold HolderOrderOK.
  cbn [log brokerOffset ledger set_win set_local_cp set_local].
  destruct (H q) as (Ha & Hb & Hc); split; [exact Ha | split; [exact Hb |]].
  intros d; rewrite set_win_base, set_win_epoch, set_win_writeUpTo; intros Hd;
    specialize (Hc d Hd).
  destruct (set_win_cases s c p w d q) as [(-> & -> & ->) | (_ & ->)]; [| exact Hc].
  split; [apply Hc | split; [exact (Hw Hd) | apply Hc]].
Qed.

(** The head actions keep the window's length. *)
Lemma offset_order_map_head : forall s c p f,
  OffsetOrderInv s ->
  OffsetOrderInv (set_win s c p (map_head f (win (local s c p)))).
Proof using.
  intros s c p f H; apply offset_order_set_win; [| exact H].
  intros Hc; rewrite length_map_head; apply (H p); exact Hc.
Qed.

Lemma offset_order_inv_Produce : forall s p,
  IInv s -> OffsetOrderInv (produce s p).
Proof using.
  intros s p H q; unfold HolderOrderOK; cbn.
  destruct (iinv_offset_order s H q) as (Ha & Hb & Hc); unfold HolderOrderOK in Hc.
  assert (Hlog : log s q <= upd_p (log s) p (S (log s p)) q).
  { destruct (upd_p_cases (log s) p (S (log s p)) q) as [[-> ->] | [_ ->]]; lia. }
  split; [exact Ha | split; [lia |]].
  intros d Hd; specialize (Hc d Hd); lia.
Qed.

Lemma offset_order_inv_Rebalance : forall s p oc,
  IInv s -> OffsetOrderInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

Lemma offset_order_inv_Crash : forall s c,
  IInv s -> OffsetOrderInv (crash s c).
Proof using.
  intros s c H; apply (offset_order_frame_local s); auto; [| apply H].
  intros d q; destruct (crash_local_cases s c d q) as [[_ ->] | [_ ->]]; auto.
Qed.

Lemma offset_order_inv_Restart : forall s c,
  IInv s -> OffsetOrderInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The new holder starts at the ledger's next; every other holder of p has
    an epoch below the new one (FencingInv), so the last fact is vacuous. *)
Lemma offset_order_inv_Assign : forall s c p,
  IInv s -> OffsetOrderInv (assign s c p).
Proof using.
  intros s c p H q; unfold assign, HolderOrderOK; cbv zeta.
  set (L := fence (ledger s p)); set (s1 := set_ledger s (upd_p (ledger s) p L)).
  set (l := mkLocal (S (epoch (ledger s p))) (gen s p) (next (ledger s p)) [] 0 NoAnswer).
  change (ledger (set_local_cp s1 c p l) q) with (upd_p (ledger s) p L q).
  change (log (set_local_cp s1 c p l)) with (log s).
  change (brokerOffset (set_local_cp s1 c p l)) with (brokerOffset s).
  destruct (iinv_offset_order s H q) as (Ha & Hb & Hc); unfold HolderOrderOK in Hc.
  destruct (upd_p_cases (ledger s) p L q) as [[-> ->] | [Hq ->]].
  - unfold L; cbn [fence next epoch]; split; [exact Ha | split; [exact Hb |]].
    intros d; destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (Hne & ->)];
      intros Hd; change (local s1) with (local s) in *.
    + cbn; split; [lia | split; [lia | auto]].
    + destruct (Hc d Hd) as (Hc1 & Hc2 & _); split; [exact Hc1 | split; [exact Hc2 |]].
      destruct (iinv_fencing s H p) as (_ & Hle & _); specialize (Hle d).
      unfold EpochIssuedOK in Hle; lia.
  - split; [exact Ha | split; [exact Hb |]].
    intros d; destruct (set_local_cp_cases s1 c p l d q) as [(_ & -> & _) | (_ & ->)];
      [contradiction |].
    change (local s1) with (local s); apply Hc.
Qed.

Lemma offset_order_inv_Revoke : forall s c p,
  IInv s -> OffsetOrderInv (revoke s c p).
Proof using. intros s c p H; apply offset_order_drop, H. Qed.

Lemma offset_order_inv_Fetch : forall s c p,
  IInv s -> Position s c p < log s p -> OffsetOrderInv (fetch s c p).
Proof using.
  intros s c p H Hpos; apply offset_order_set_win; [| apply H].
  intros _; unfold Position in Hpos; rewrite app_length; cbn; lia.
Qed.

Lemma offset_order_inv_Begin : forall s c p,
  IInv s -> OffsetOrderInv (begin s c p).
Proof using. intros s c p H; apply offset_order_map_head, H. Qed.

Lemma offset_order_inv_Succeed : forall s c p,
  IInv s -> OffsetOrderInv (succeed s c p).
Proof using. intros s c p H; apply offset_order_map_head, H. Qed.

Lemma offset_order_inv_Fail : forall s c p,
  IInv s -> OffsetOrderInv (fail s c p).
Proof using. intros s c p H; apply offset_order_map_head, H. Qed.

Lemma offset_order_inv_Retry : forall s c p,
  IInv s -> OffsetOrderInv (retry s c p).
Proof using. intros s c p H; apply offset_order_map_head, H. Qed.

Lemma offset_order_inv_DeadLetter : forall s c p,
  IInv s -> OffsetOrderInv (dead_letter s c p).
Proof using. intros s c p H; apply offset_order_map_head, H. Qed.

(** Before the write the holder of the current epoch starts at the
    ledger's next (it has no write in flight), and it still does. *)
Lemma offset_order_inv_WriteLedger : forall s c p k,
  IInv s -> writeUpTo (local s c p) = 0 -> OffsetOrderInv (write_ledger s c p k).
Proof using.
  intros s c p k H Hnone; unfold write_ledger; cbv zeta.
  apply offset_order_set_local_cp; [| exact (iinv_offset_order s H)].
  destruct (iinv_offset_order s H p) as (_ & _ & Hc).
  intros Hep; cbn in Hep |- *; destruct (Hc c Hep) as (Hc1 & Hc2 & Hc3).
  split; [exact Hc1 | split; [exact Hc2 |]].
  intros Hcur; destruct (Hc3 Hcur) as [Hb | [Hw _]]; [left; exact Hb | contradiction].
Qed.

(** An applied write moves the ledger's next from its expectedNext up to its
    upTo, within the log (WriteRangeOK).  The only holder of the write's
    epoch, now the current one, is its sender, whose write in flight is it
    (WriteInFlightInv): it has the write's upTo at the ledger's next. *)
Lemma offset_order_inv_ApplyWrite : forall s p w,
  IInv s -> In w (writes s p) -> OffsetOrderInv (apply_write s p w).
Proof using.
  intros s p w H Hw q; unfold HolderOrderOK, apply_write.
  rewrite apply_write_ledger, apply_write_log, apply_write_brokerOffset.
  destruct (iinv_offset_order s H q) as (Ha & Hb & Hc); unfold HolderOrderOK in Hc.
  destruct (commit_accepted_b s w p) eqn:Eok.
  - apply commit_accepted_b_spec in Eok; destruct Eok as [Hep Hexp].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) q)
      as [[-> ->] | [_ ->]].
    + destruct (iinv_write_in_flight s H p) as (Hrange & _ & _ & Hsender & _).
      destruct (Hrange w Hw) as (_ & Hlt & Hlog & _).
      cbn [apply_ledger next epoch]; split; [lia | split; [lia |]].
      intros d; rewrite apply_write_local_epoch, apply_write_local_base,
        apply_write_local_win, apply_write_local_writeUpTo; intros Hd.
      destruct (Hc d Hd) as (Hc1 & Hc2 & _); split; [lia | split; [exact Hc2 |]].
      intros Hcur; right.
      destruct (Hsender w d Hw ltac:(congruence)) as (_ & _ & Hup & _); lia.
    + split; [exact Ha | split; [exact Hb |]].
      intros d; rewrite apply_write_local_epoch, apply_write_local_base,
        apply_write_local_win, apply_write_local_writeUpTo; apply Hc.
  - split; [exact Ha | split; [exact Hb |]].
    intros d; rewrite apply_write_local_epoch, apply_write_local_base,
      apply_write_local_win, apply_write_local_writeUpTo; apply Hc.
Qed.

Lemma offset_order_inv_AbortWrite : forall s p w,
  IInv s -> OffsetOrderInv (abort_write s p w).
Proof using. intros s p w H; apply H. Qed.

Lemma offset_order_inv_LoseAnswer : forall s c p,
  IInv s -> OffsetOrderInv (lose_answer s c p).
Proof using.
  intros s c p H; apply offset_order_set_local_cp; [| apply H].
  apply (iinv_offset_order s H p).
Qed.

(** Recover keeps the write's upTo unless the row says it never applied
    ([NoAnswer]: the row's next is the window's base). *)
Lemma offset_order_inv_Recover : forall s c p,
  IInv s -> OffsetOrderInv (recover s c p).
Proof using.
  intros s c p H; apply offset_order_set_local_cp; [| apply H].
  destruct (iinv_offset_order s H p) as (_ & _ & Hc).
  intros Hep; cbn in Hep |- *; destruct (Hc c Hep) as (Hc1 & Hc2 & Hc3).
  split; [exact Hc1 | split; [exact Hc2 |]].
  unfold RecoverDecision.
  destruct (Nat.eqb (epoch (ledger s p)) (loc_epoch (local s c p)) &&
            Nat.eqb (next (ledger s p)) (writeUpTo (local s c p))); [exact Hc3 |].
  destruct (Nat.eqb (epoch (ledger s p)) (loc_epoch (local s c p)) &&
            Nat.eqb (next (ledger s p)) (base (local s c p))) eqn:E; [| exact Hc3].
  apply andb_prop in E as [_ E]; apply Nat.eqb_eq in E; intros _; left; auto.
Qed.

(** The window moves up to the write's upTo, which the ledger holds
    (AnswerOK) and which lies in the finished prefix (WindowShapeOK), so the
    position is kept. *)
Lemma offset_order_inv_Commit : forall s c p,
  IInv s -> answer (local s c p) = Committed -> OffsetOrderInv (commit s c p).
Proof using.
  intros s c p H Hans; apply offset_order_set_local_cp; [| apply H].
  destruct (iinv_offset_order s H p) as (_ & _ & Hc).
  destruct (iinv_window_shape s H c p) as (_ & _ & _ & Hnone & Hsome).
  destruct (iinv_write_in_flight s H p) as (_ & _ & _ & _ & Hans_ok).
  destruct (Hans_ok c) as (_ & Hcom); destruct (Hcom Hans) as (Hle & Heq).
  assert (Hw : writeUpTo (local s c p) <> 0) by (intros E; rewrite (Hnone E) in Hans; discriminate).
  destruct (Hsome Hw) as (Hlt & Hfp).
  pose proof (fpl_le_length (win (local s c p))) as Hfpl.
  intros Hep; cbn in Hep |- *; destruct (Hc c Hep) as (_ & Hc2 & _).
  rewrite skipn_length; split; [exact Hle | split; [lia |]].
  intros Hcur; left; symmetry; apply Heq, Hcur.
Qed.

Lemma offset_order_inv_CommitRejected : forall s c p,
  IInv s -> OffsetOrderInv (commit_rejected s c p).
Proof using. intros s c p H; apply offset_order_drop, H. Qed.

(** The advisory offset is the holder's base, which is at most the ledger's
    next. *)
Lemma offset_order_inv_CommitBroker : forall s c p,
  IInv s -> Held s c p -> OffsetOrderInv (commit_broker s c p).
Proof using.
  intros s c p H Hc q; cbn.
  destruct (iinv_offset_order s H q) as (Ha & Hb & Hq).
  split; [| split; [exact Hb | exact Hq]].
  destruct (upd_p_cases (brokerOffset s) p (base (local s c p)) q) as [[-> ->] | [_ ->]].
  - apply (iinv_offset_order s H p); exact Hc.
  - exact Ha.
Qed.

Lemma offset_order_inv_PublishDeadLetter : forall s p,
  IInv s -> OffsetOrderInv (publish_dead_letter s p).
Proof using. intros s p H; apply H. Qed.

Lemma offset_order_inv_init : OffsetOrderInv init.
Proof using.
  intros p; cbn; split; [lia | split; [lia |]].
  intros c Hc; cbn in Hc; contradiction.
Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma offset_order_inv_step : forall s s',
  IInv s -> step s s' -> OffsetOrderInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply offset_order_inv_Produce; assumption.
  - apply offset_order_inv_Rebalance; assumption.
  - apply offset_order_inv_Crash; assumption.
  - apply offset_order_inv_Restart; assumption.
  - apply offset_order_inv_Assign; assumption.
  - apply offset_order_inv_Revoke; assumption.
  - apply offset_order_inv_Fetch; assumption.
  - apply offset_order_inv_Begin; assumption.
  - apply offset_order_inv_Succeed; assumption.
  - apply offset_order_inv_Fail; assumption.
  - apply offset_order_inv_Retry; assumption.
  - apply offset_order_inv_DeadLetter; assumption.
  - apply offset_order_inv_WriteLedger; assumption.
  - apply offset_order_inv_ApplyWrite; assumption.
  - apply offset_order_inv_AbortWrite; assumption.
  - apply offset_order_inv_LoseAnswer; assumption.
  - apply offset_order_inv_Recover; assumption.
  - apply offset_order_inv_Commit; assumption.
  - apply offset_order_inv_CommitRejected; assumption.
  - apply offset_order_inv_CommitBroker; assumption.
  - apply offset_order_inv_PublishDeadLetter; assumption.
Qed.

End OffsetOrderProof.
