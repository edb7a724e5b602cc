(** * TypeOKFacts is preserved by every action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas WindowLemmas IInv.

Section TypeOKProof.
Context {params : Params}.

(** A view within the bounds of TypeOK. *)
Definition LocalOK (l : LocalRec) : Prop :=
  base l <= MaxOffset /\
  Forall (fun sl => tries sl <= S MaxRetries) (win l) /\
  length (win l) <= Window /\
  writeUpTo l <= MaxOffset.

Lemma local_ok_NotHeld : LocalOK NotHeld.
Proof using. split; [cbn; lia | split; [constructor | cbn; lia]]. Qed.

Lemma local_ok_of : forall s c p, TypeOKFacts s -> LocalOK (local s c p).
Proof using.
  intros s c p H; split; [apply H | split; [apply H | split; apply H]].
Qed.

(** An action that changes no bounded variable (equalities of functions
    here are definitional: they hold by [reflexivity]). *)
Lemma typeok_frame : forall s s',
  log s' = log s -> brokerOffset s' = brokerOffset s -> ledger s' = ledger s ->
  dlqTopic s' = dlqTopic s -> writes s' = writes s -> local s' = local s ->
  TypeOKFacts s -> TypeOKFacts s'.
Proof using.
  intros s s' E1 E2 E3 E4 E6 E5 H; destruct H; constructor;
    rewrite ?E1, ?E2, ?E3, ?E4, ?E5, ?E6; assumption.
Qed.

(** Consumer actions change one view; the other facts are untouched. *)
Lemma typeok_set_local_cp : forall s c p l,
  LocalOK l -> TypeOKFacts s -> TypeOKFacts (set_local_cp s c p l).
Proof using.
  intros s c p l (Hb & Ht & Hw & Hu) H; constructor; try apply H;
    intros d q; destruct (set_local_cp_cases s c p l d q) as [(_ & _ & ->) | (_ & ->)];
    auto; apply H.
Qed.

(** The head actions keep the length and the base, and [f] keeps the bound
    on tries. *)
Lemma typeok_map_head : forall s c p f,
  (forall h, head_slot (win (local s c p)) = Some h -> tries (f h) <= S MaxRetries) ->
  TypeOKFacts s -> TypeOKFacts (set_win s c p (map_head f (win (local s c p)))).
Proof using.
  intros s c p f Hf H; apply typeok_set_local_cp; [| exact H].
  split; [apply (tok_base H) | split; [| split]]; cbn.
  - apply Forall_map_head; [apply (tok_tries H) | exact Hf].
  - rewrite length_map_head; apply (tok_window H).
  - apply (tok_writeUpTo H).
Qed.

(** The head slot's tries are within the bound. *)
Lemma head_tries_le : forall s c p h,
  IInv s -> head_slot (win (local s c p)) = Some h -> tries h <= S MaxRetries.
Proof using.
  intros s c p h H Hh; apply head_slot_In in Hh.
  exact (proj1 (Forall_forall _ _) (tok_tries (iinv_typeok s H) c p) h Hh).
Qed.

Lemma typeok_inv_Produce : forall s p,
  IInv s -> log s p < MaxOffset -> TypeOKFacts (produce s p).
Proof using.
  intros s p H Hlt; destruct (iinv_typeok s H) as [Hlog ? ? ? ? ? ? ? ? ? ?].
  constructor; auto; intros q; cbn.
  destruct (upd_p_cases (log s) p (S (log s p)) q) as [[-> ->] | [_ ->]];
    [lia | apply Hlog].
Qed.

Lemma typeok_inv_Rebalance : forall s p oc,
  IInv s -> TypeOKFacts (rebalance s p oc).
Proof using. intros s p oc H; apply (typeok_frame s); try reflexivity; apply H.
Qed.

Lemma typeok_inv_Crash : forall s c,
  IInv s -> TypeOKFacts (crash s c).
Proof using.
  intros s c H; destruct (iinv_typeok s H) as [? ? ? ? ? ? ? Hb Ht Hw Hu].
  constructor; auto; intros d q;
    destruct (crash_local_cases s c d q) as [[_ ->] | [_ ->]]; cbn; auto;
    first [lia | constructor].
Qed.

Lemma typeok_inv_Restart : forall s c,
  IInv s -> TypeOKFacts (restart s c).
Proof using. intros s c H; apply (typeok_frame s); try reflexivity; apply H.
Qed.

(** The new view starts at the ledger's next, with an empty window. *)
Lemma typeok_inv_Assign : forall s c p,
  IInv s -> TypeOKFacts (assign s c p).
Proof using.
  intros s c p H; pose proof (iinv_typeok s H) as Hs.
  apply typeok_set_local_cp.
  - split; [apply (tok_next Hs) | split; [constructor | cbn; lia]].
  - (* the fence changes no bounded field *)
    constructor; try apply Hs; intros q; cbn;
      destruct (upd_p_cases (ledger s) p (fence (ledger s p)) q) as [[-> ->] | [_ ->]];
      apply Hs.
Qed.

Lemma typeok_inv_Revoke : forall s c p,
  IInv s -> TypeOKFacts (revoke s c p).
Proof using.
  intros s c p H; apply typeok_set_local_cp; [apply local_ok_NotHeld | apply H].
Qed.

(** Fetch is guarded by the window bound. *)
Lemma typeok_inv_Fetch : forall s c p,
  IInv s -> length (win (local s c p)) < Window -> TypeOKFacts (fetch s c p).
Proof using.
  intros s c p H Hw; pose proof (iinv_typeok s H) as Hs.
  apply typeok_set_local_cp; [| exact Hs].
  split; [apply (tok_base Hs) | split; [| split]]; cbn.
  - apply Forall_app; split; [apply (tok_tries Hs) | repeat constructor; cbn; lia].
  - rewrite app_length; cbn; lia.
  - apply (tok_writeUpTo Hs).
Qed.

Lemma typeok_inv_Begin : forall s c p,
  IInv s -> TypeOKFacts (begin s c p).
Proof using.
  intros s c p H; apply typeok_map_head; [| apply H].
  intros h Hh; apply (head_tries_le s c p h H Hh).
Qed.

Lemma typeok_inv_Succeed : forall s c p,
  IInv s -> TypeOKFacts (succeed s c p).
Proof using.
  intros s c p H; apply typeok_map_head; [| apply H].
  intros h Hh; apply (head_tries_le s c p h H Hh).
Qed.

(** A Processing slot has at most MaxRetries failures (WindowShapeInv), so
    one more stays within MaxRetries + 1. *)
Lemma typeok_inv_Fail : forall s c p sl,
  IInv s -> head_slot (win (local s c p)) = Some sl -> st sl = Processing ->
  TypeOKFacts (fail s c p).
Proof using.
  intros s c p sl H Hhead Hst; apply typeok_map_head; [| apply H].
  intros h Hh; rewrite Hhead in Hh; injection Hh as <-; cbn.
  apply head_slot_In in Hhead.
  destruct (iinv_window_shape s H c p) as (Hslots & _).
  destruct (proj1 (Forall_forall _ _) Hslots sl Hhead) as (_ & Hproc & _).
  specialize (Hproc Hst); lia.
Qed.

Lemma typeok_inv_Retry : forall s c p,
  IInv s -> TypeOKFacts (retry s c p).
Proof using.
  intros s c p H; apply typeok_map_head; [| apply H].
  intros h Hh; apply (head_tries_le s c p h H Hh).
Qed.

Lemma typeok_inv_DeadLetter : forall s c p,
  IInv s -> TypeOKFacts (dead_letter s c p).
Proof using.
  intros s c p H; apply typeok_map_head; [| apply H].
  intros h Hh; apply (head_tries_le s c p h H Hh).
Qed.

(** The write's offsets lie below [base + k <= Position <= log <= MaxOffset]. *)
Lemma typeok_inv_WriteLedger : forall s c p k,
  IInv s -> Held s c p -> 1 <= k <= FinishedPrefixLen (win (local s c p)) ->
  TypeOKFacts (write_ledger s c p k).
Proof using.
  intros s c p k H Hheld Hk; pose proof (iinv_typeok s H) as Hs.
  destruct (iinv_offset_order s H p) as (_ & _ & Hc).
  destruct (Hc c Hheld) as (_ & Hpos & _).
  pose proof (fpl_le_length (win (local s c p))) as Hfpl.
  pose proof (tok_log Hs p) as Hlog.
  assert (Hnew : forall x o, In o (OffsetsIn (base (local s c p)) (win (local s c p)) k x) ->
                 offset_ok o).
  { intros x o Ho; apply offsets_in_bounds in Ho; unfold offset_ok; lia. }
  apply typeok_set_local_cp.
  - destruct (local_ok_of s c p Hs) as (Hb & Ht & Hw & _).
    split; [exact Hb | split; [exact Ht | split; [exact Hw | cbn; lia]]].
  - constructor; try apply Hs; intros q v; cbn; rewrite upd_p_writes_in.
    intros [[-> [<- | Hv]] | [_ Hv]]; [| apply (tok_writes Hs p); exact Hv |
                                       apply (tok_writes Hs q); exact Hv].
    unfold WriteTypeOK; cbn; split; [lia | split; [lia |]].
    split; apply Forall_forall, Hnew.
Qed.

(** The row takes the write's upTo and outcomes, all within the bounds. *)
Lemma typeok_inv_ApplyWrite : forall s p w,
  IInv s -> In w (writes s p) -> TypeOKFacts (apply_write s p w).
Proof using.
  intros s p w H Hw; pose proof (iinv_typeok s H) as Hs.
  destruct (tok_writes Hs p w Hw) as (He & Hu & Heff & Hdlq).
  unfold apply_write; constructor; intros;
    rewrite ?apply_write_log, ?apply_write_brokerOffset, ?apply_write_ledger,
      ?apply_write_dlqTopic, ?apply_write_writes, ?apply_write_local_base,
      ?apply_write_local_win, ?apply_write_local_writeUpTo; try apply Hs.
  - destruct (commit_accepted_b s w p); [| apply Hs].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) p0)
      as [[-> ->] | [_ ->]]; [exact Hu | apply Hs].
  - destruct (commit_accepted_b s w p); [| apply Hs].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) p0)
      as [[-> ->] | [_ ->]]; [apply Forall_app; split; [apply Hs | exact Heff] | apply Hs].
  - destruct (commit_accepted_b s w p); [| apply Hs].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) p0)
      as [[-> ->] | [_ ->]]; [apply Forall_app; split; [apply Hs | exact Hdlq] | apply Hs].
  - match goal with Hin : In _ _ |- _ => rename Hin into Hv end.
    rewrite apply_write_writes in Hv; apply upd_p_writes_in in Hv as [[-> Hv] | [_ Hv]];
      [apply in_remove_iff in Hv; apply (tok_writes Hs p), Hv | eapply (tok_writes Hs); exact Hv].
Qed.

Lemma typeok_inv_AbortWrite : forall s p w,
  IInv s -> TypeOKFacts (abort_write s p w).
Proof using.
  intros s p w H; pose proof (iinv_typeok s H) as Hs.
  constructor; try apply Hs; intros q v; cbn; rewrite upd_p_writes_in.
  intros [[-> Hv] | [_ Hv]]; eapply (tok_writes Hs);
    [apply in_remove_iff in Hv; apply Hv | exact Hv].
Qed.

Lemma typeok_inv_LoseAnswer : forall s c p,
  IInv s -> TypeOKFacts (lose_answer s c p).
Proof using.
  intros s c p H; apply typeok_set_local_cp; [| apply H].
  apply (local_ok_of s c p (iinv_typeok s H)).
Qed.

Lemma typeok_inv_Recover : forall s c p,
  IInv s -> TypeOKFacts (recover s c p).
Proof using.
  intros s c p H; apply typeok_set_local_cp; [| apply H].
  destruct (local_ok_of s c p (iinv_typeok s H)) as (Hb & Ht & Hw & Hu).
  split; [exact Hb | split; [exact Ht | split; [exact Hw |]]]; cbn.
  destruct (RecoverDecision (local s c p) (ledger s p)); lia.
Qed.

(** The new base is the write's upTo, within [0..MaxOffset]. *)
Lemma typeok_inv_Commit : forall s c p,
  IInv s -> TypeOKFacts (commit s c p).
Proof using.
  intros s c p H; apply typeok_set_local_cp; [| apply H].
  destruct (local_ok_of s c p (iinv_typeok s H)) as (Hb & Ht & Hw & Hu).
  split; [exact Hu | split; [apply Forall_skipn, Ht | split; cbn; [| lia]]].
  rewrite skipn_length; lia.
Qed.

Lemma typeok_inv_CommitRejected : forall s c p,
  IInv s -> TypeOKFacts (commit_rejected s c p).
Proof using.
  intros s c p H; apply typeok_set_local_cp; [apply local_ok_NotHeld | apply H].
Qed.

(** The advisory offset is a holder's base. *)
Lemma typeok_inv_CommitBroker : forall s c p,
  IInv s -> TypeOKFacts (commit_broker s c p).
Proof using.
  intros s c p H; pose proof (iinv_typeok s H) as Hs.
  constructor; try apply Hs; intros q; cbn.
  destruct (upd_p_cases (brokerOffset s) p (base (local s c p)) q) as [[-> ->] | [_ ->]];
    [apply (tok_base Hs) | apply Hs].
Qed.

(** The relayed dead letter is an outbox entry. *)
Lemma typeok_inv_PublishDeadLetter : forall s p,
  IInv s -> length (dlqTopic s p) < length (dlq (ledger s p)) ->
  TypeOKFacts (publish_dead_letter s p).
Proof using.
  intros s p H Hlen; pose proof (iinv_typeok s H) as Hs.
  constructor; try apply Hs; intros q; cbn.
  destruct (upd_p_cases (dlqTopic s) p
    (dlqTopic s p ++ [nth (length (dlqTopic s p)) (dlq (ledger s p)) 0]) q)
    as [[-> ->] | [_ ->]]; [| apply Hs].
  apply Forall_app; split; [apply Hs |]; constructor; [| constructor].
  apply (proj1 (Forall_forall _ _) (tok_dlq Hs p)), nth_In, Hlen.
Qed.

Lemma typeok_inv_init : TypeOKFacts init.
Proof using. constructor; intros; cbn in *; auto; lia. Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma typeok_inv_step : forall s s',
  IInv s -> step s s' -> TypeOKFacts s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply typeok_inv_Produce; assumption.
  - apply typeok_inv_Rebalance; assumption.
  - apply typeok_inv_Crash; assumption.
  - apply typeok_inv_Restart; assumption.
  - apply typeok_inv_Assign; assumption.
  - apply typeok_inv_Revoke; assumption.
  - apply typeok_inv_Fetch; assumption.
  - apply typeok_inv_Begin; assumption.
  - apply typeok_inv_Succeed; assumption.
  - eapply typeok_inv_Fail; eassumption.
  - apply typeok_inv_Retry; assumption.
  - apply typeok_inv_DeadLetter; assumption.
  - apply typeok_inv_WriteLedger; assumption.
  - apply typeok_inv_ApplyWrite; assumption.
  - apply typeok_inv_AbortWrite; assumption.
  - apply typeok_inv_LoseAnswer; assumption.
  - apply typeok_inv_Recover; assumption.
  - apply typeok_inv_Commit; assumption.
  - apply typeok_inv_CommitRejected; assumption.
  - apply typeok_inv_CommitBroker; assumption.
  - apply typeok_inv_PublishDeadLetter; assumption.
Qed.

End TypeOKProof.
