(** * WindowShapeInv is preserved by every action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas WindowLemmas IInv.

Section WindowShapeProof.
Context {params : Params}.

(** A view that holds nothing is well-shaped. *)
Lemma window_shape_NotHeld : WindowShapeOK NotHeld.
Proof using.
  split; [constructor | split; [constructor | split; [auto | split; [auto |]]]].
  cbn; intros []; reflexivity.
Qed.

(** Replacing one view by a well-shaped one. *)
Lemma window_shape_set_local_cp : forall s c p l,
  WindowShapeOK l -> WindowShapeInv s -> WindowShapeInv (set_local_cp s c p l).
Proof using.
  intros s c p l Hl H d q.
  destruct (set_local_cp_cases s c p l d q) as [(_ & _ & ->) | (_ & ->)];
    [exact Hl | apply H].
Qed.

(** ** The three window updates keep "Pending after the head". *)

Lemma after_head_app_pending : forall w,
  AfterHeadPending w -> AfterHeadPending (w ++ [pending0]).
Proof using.
  unfold AfterHeadPending; intros w H.
  rewrite fpl_app_unfinished by reflexivity; rewrite skipn_app.
  apply Forall_app; split; [exact H |].
  apply Forall_skipn; repeat constructor.
Qed.

(** [map_head] changes only the head; what lies after the new head lies
    after the old one. *)
Lemma after_head_map_head : forall f w,
  AfterHeadPending w -> AfterHeadPending (map_head f w).
Proof using.
  unfold AfterHeadPending; intros f w H.
  pose proof (fpl_map_head_ge f w) as Hge.
  rewrite skipn_map_head by lia.
  replace (S (FinishedPrefixLen (map_head f w)))
    with ((FinishedPrefixLen (map_head f w) - FinishedPrefixLen w) + S (FinishedPrefixLen w))
    by lia.
  rewrite <- skipn_skipn'; apply Forall_skipn, H.
Qed.

(** Commit drops [k] slots of the finished prefix: the head is the same slot. *)
Lemma after_head_skipn : forall k w,
  k <= FinishedPrefixLen w -> AfterHeadPending w -> AfterHeadPending (skipn k w).
Proof using.
  unfold AfterHeadPending; intros k w Hk H.
  rewrite fpl_skipn, skipn_skipn' by exact Hk.
  replace (S (FinishedPrefixLen w - k) + k) with (S (FinishedPrefixLen w)) by lia.
  exact H.
Qed.

(** The head actions: the new head slot [f sl] is well-formed. *)
Lemma window_shape_map_head : forall s c p f sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl -> SlotOK (f sl) ->
  WindowShapeInv (set_win s c p (map_head f (win (local s c p)))).
Proof using.
  intros s c p f sl H Hheld Hhead Hok.
  apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & Hnone & Hsome).
  pose proof (fpl_map_head_ge f (win (local s c p))) as Hge.
  split; [| split; [| split; [| split]]]; cbn.
  - apply Forall_map_head; [exact Hslots |]; congruence.
  - apply after_head_map_head, Hafter.
  - intros Hn; contradiction.
  - exact Hnone.
  - intros Hw; destruct (Hsome Hw); split; lia.
Qed.

(** Reading the head slot's facts from the window's. *)
Lemma head_slot_ok : forall s c p sl,
  IInv s -> head_slot (win (local s c p)) = Some sl -> SlotOK sl.
Proof using.
  intros s c p sl H Hhead; apply head_slot_In in Hhead.
  destruct (iinv_window_shape s H c p) as (Hslots & _).
  exact (proj1 (Forall_forall _ _) Hslots sl Hhead).
Qed.

Lemma window_shape_inv_Produce : forall s p,
  IInv s -> WindowShapeInv (produce s p).
Proof using. intros s p H; apply H. Qed.

Lemma window_shape_inv_Rebalance : forall s p oc,
  IInv s -> WindowShapeInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

Lemma window_shape_inv_Crash : forall s c,
  IInv s -> WindowShapeInv (crash s c).
Proof using.
  intros s c H d q.
  destruct (crash_local_cases s c d q) as [[_ ->] | [_ ->]];
    [apply window_shape_NotHeld | apply H].
Qed.

Lemma window_shape_inv_Restart : forall s c,
  IInv s -> WindowShapeInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The new holder starts with an empty window and a non-zero epoch. *)
Lemma window_shape_inv_Assign : forall s c p,
  IInv s -> WindowShapeInv (assign s c p).
Proof using.
  intros s c p H; apply window_shape_set_local_cp; [| apply H].
  split; [constructor | split; [constructor | split; [| split]]]; cbn.
  - discriminate.
  - reflexivity.
  - intros []; reflexivity.
Qed.

Lemma window_shape_inv_Revoke : forall s c p,
  IInv s -> WindowShapeInv (revoke s c p).
Proof using.
  intros s c p H; apply window_shape_set_local_cp; [apply window_shape_NotHeld | apply H].
Qed.

(** A fetched slot is [Slot(Pending, 0)], appended after everything. *)
Lemma window_shape_inv_Fetch : forall s c p,
  IInv s -> Held s c p -> WindowShapeInv (fetch s c p).
Proof using.
  intros s c p H Hheld; apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & Hnone & Hsome).
  split; [| split; [| split; [| split]]]; cbn.
  - apply Forall_app; split; [exact Hslots |].
    repeat constructor; cbn; discriminate || (intros [E | E]; discriminate).
  - apply after_head_app_pending, Hafter.
  - intros Hn; contradiction.
  - exact Hnone.
  - rewrite fpl_app_unfinished by reflexivity; exact Hsome.
Qed.

(** Begin starts an untried Pending head: 0 retries so far. *)
Lemma window_shape_inv_Begin : forall s c p sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl -> st sl = Pending ->
  WindowShapeInv (begin s c p).
Proof using.
  intros s c p sl H Hheld Hhead Hst.
  destruct (head_slot_ok s c p sl H Hhead) as (Hzero & _).
  apply (window_shape_map_head s c p _ sl H Hheld Hhead); unfold SlotOK; cbn.
  split; [discriminate | split; [rewrite (Hzero Hst); lia |]].
  split; [intros [E | E] | intros E]; discriminate.
Qed.

Lemma window_shape_inv_Succeed : forall s c p sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl ->
  WindowShapeInv (succeed s c p).
Proof using.
  intros s c p sl H Hheld Hhead.
  apply (window_shape_map_head s c p _ sl H Hheld Hhead); unfold SlotOK; cbn.
  split; [discriminate | split; [discriminate |]].
  split; [intros [E | E] | intros E]; discriminate.
Qed.

(** A failure is counted: at least one try now. *)
Lemma window_shape_inv_Fail : forall s c p sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl ->
  WindowShapeInv (fail s c p).
Proof using.
  intros s c p sl H Hheld Hhead.
  apply (window_shape_map_head s c p _ sl H Hheld Hhead); unfold SlotOK; cbn.
  split; [discriminate | split; [discriminate | split; [lia | discriminate]]].
Qed.

(** Retry is enabled only while retries remain. *)
Lemma window_shape_inv_Retry : forall s c p sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl ->
  tries sl <= MaxRetries -> WindowShapeInv (retry s c p).
Proof using.
  intros s c p sl H Hheld Hhead Htries.
  apply (window_shape_map_head s c p _ sl H Hheld Hhead); unfold SlotOK; cbn.
  split; [discriminate | split; [auto |]].
  split; [intros [E | E] | intros E]; discriminate.
Qed.

(** DeadLetter is enabled only once retries are exhausted, on a Failed slot
    (which has been tried at least once). *)
Lemma window_shape_inv_DeadLetter : forall s c p sl,
  IInv s -> Held s c p -> head_slot (win (local s c p)) = Some sl -> st sl = Failed ->
  MaxRetries < tries sl -> WindowShapeInv (dead_letter s c p).
Proof using.
  intros s c p sl H Hheld Hhead Hst Htries.
  destruct (head_slot_ok s c p sl H Hhead) as (_ & _ & Hone & _).
  apply (window_shape_map_head s c p _ sl H Hheld Hhead); unfold SlotOK; cbn.
  split; [discriminate | split; [discriminate | split; auto]].
Qed.

(** The write covers [k] slots of the finished prefix, [1 <= k]. *)
Lemma window_shape_inv_WriteLedger : forall s c p k,
  IInv s -> Held s c p -> 1 <= k <= FinishedPrefixLen (win (local s c p)) ->
  WindowShapeInv (write_ledger s c p k).
Proof using.
  intros s c p k H Hheld Hk; apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & _ & _).
  split; [| split; [| split; [| split]]]; cbn.
  - exact Hslots.
  - exact Hafter.
  - intros Hn; contradiction.
  - intros E; lia.
  - intros _; lia.
Qed.

(** Only a sender that awaits its answer, with a write in flight, gets one. *)
Lemma window_shape_inv_ApplyWrite : forall s p w,
  IInv s -> WindowShapeInv (apply_write s p w).
Proof using.
  intros s p w H d q; unfold apply_write.
  destruct (apply_write_local_cases commit_accepted_b s p w d q)
    as [((_ & Hw & _) & -> & -> & ->) | (_ & ->)]; [| apply H].
  destruct (iinv_window_shape s H (wr_c w) p) as (Hslots & Hafter & Hep & Hnone & Hsome).
  split; [exact Hslots | split; [exact Hafter | split; [| split; [| exact Hsome]]]]; cbn.
  - intros E; destruct Hw; rewrite (Hep E); reflexivity.
  - intros E; contradiction.
Qed.

Lemma window_shape_inv_AbortWrite : forall s p w,
  IInv s -> WindowShapeInv (abort_write s p w).
Proof using. intros s p w H; apply H. Qed.

(** LoseAnswer is enabled only with a write in flight. *)
Lemma window_shape_inv_LoseAnswer : forall s c p,
  IInv s -> Held s c p -> writeUpTo (local s c p) <> 0 ->
  WindowShapeInv (lose_answer s c p).
Proof using.
  intros s c p H Hheld Hw; apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & _ & Hsome).
  split; [exact Hslots | split; [exact Hafter | split; [| split; [| exact Hsome]]]]; cbn.
  - intros Hn; contradiction.
  - intros E; contradiction.
Qed.

(** Recover either keeps the write in flight with an answer, or drops it
    ([NoAnswer]: writeUpTo = 0). *)
Lemma window_shape_inv_Recover : forall s c p,
  IInv s -> Held s c p -> answer (local s c p) = Unknown -> WindowShapeInv (recover s c p).
Proof using.
  intros s c p H Hheld Hans; apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & Hnone & Hsome).
  assert (Hw : writeUpTo (local s c p) <> 0) by (intros E; rewrite (Hnone E) in Hans; discriminate).
  split; [exact Hslots | split; [exact Hafter | split; [| split]]]; cbn.
  - intros Hn; contradiction.
  - destruct (RecoverDecision (local s c p) (ledger s p)); auto; intros E; contradiction.
  - destruct (RecoverDecision (local s c p) (ledger s p)); try exact Hsome.
    intros Hn; contradiction.
Qed.

(** Commit drops the [writeUpTo - base] slots of the finished prefix the
    write covered, keeps the epoch and ends the write in flight. *)
Lemma window_shape_inv_Commit : forall s c p,
  IInv s -> Held s c p -> answer (local s c p) = Committed ->
  WindowShapeInv (commit s c p).
Proof using.
  intros s c p H Hheld Hans; apply window_shape_set_local_cp; [| apply H].
  destruct (iinv_window_shape s H c p) as (Hslots & Hafter & _ & Hnone & Hsome).
  assert (Hw : writeUpTo (local s c p) <> 0) by (intros E; rewrite (Hnone E) in Hans; discriminate).
  destruct (Hsome Hw) as (Hlt & Hfp).
  split; [| split; [| split; [| split]]]; cbn.
  - apply Forall_skipn, Hslots.
  - apply after_head_skipn; [lia | exact Hafter].
  - intros Hn; contradiction.
  - reflexivity.
  - intros []; reflexivity.
Qed.

Lemma window_shape_inv_CommitRejected : forall s c p,
  IInv s -> WindowShapeInv (commit_rejected s c p).
Proof using.
  intros s c p H; apply window_shape_set_local_cp; [apply window_shape_NotHeld | apply H].
Qed.

Lemma window_shape_inv_CommitBroker : forall s c p,
  IInv s -> WindowShapeInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma window_shape_inv_PublishDeadLetter : forall s p,
  IInv s -> WindowShapeInv (publish_dead_letter s p).
Proof using. intros s p H; apply H. Qed.

Lemma window_shape_inv_init : WindowShapeInv init.
Proof using. intros c p; apply window_shape_NotHeld. Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma window_shape_inv_step : forall s s',
  IInv s -> step s s' -> WindowShapeInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply window_shape_inv_Produce; assumption.
  - apply window_shape_inv_Rebalance; assumption.
  - apply window_shape_inv_Crash; assumption.
  - apply window_shape_inv_Restart; assumption.
  - apply window_shape_inv_Assign; assumption.
  - apply window_shape_inv_Revoke; assumption.
  - apply window_shape_inv_Fetch; assumption.
  - eapply window_shape_inv_Begin; eassumption.
  - eapply window_shape_inv_Succeed; eassumption.
  - eapply window_shape_inv_Fail; eassumption.
  - eapply window_shape_inv_Retry; eassumption.
  - eapply window_shape_inv_DeadLetter; eassumption.
  - apply window_shape_inv_WriteLedger; assumption.
  - apply window_shape_inv_ApplyWrite; assumption.
  - apply window_shape_inv_AbortWrite; assumption.
  - apply window_shape_inv_LoseAnswer; assumption.
  - apply window_shape_inv_Recover; assumption.
  - apply window_shape_inv_Commit; assumption.
  - apply window_shape_inv_CommitRejected; assumption.
  - apply window_shape_inv_CommitBroker; assumption.
  - apply window_shape_inv_PublishDeadLetter; assumption.
Qed.

End WindowShapeProof.
