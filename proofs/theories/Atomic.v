(** * The fused ledger write: WriteAndAnswer is WriteLedger; ApplyWrite;
    Commit or CommitRejected.

    spec/DCSM.tla with [SplitWrite = FALSE] (the broad TLC configs) replaces
    the consumer's write steps by the single action [WriteAndAnswer(c, p)].
    This file renders that action literally, proves that from every state
    satisfying IInv (so from every reachable state) each of its steps is
    three steps of [step] -- WriteLedger, then ApplyWrite of that write,
    then Commit or CommitRejected -- ending in the same state, and concludes
    that every state reachable with both kinds of steps satisfies IInv. *)

From Coq Require Import List Arith Bool Lia Setoid.
Import ListNotations.
From DCSM Require Import State Step StateLemmas WindowLemmas IInv IInvProof.

Section Atomic.
Context {params : Params}.

(** ** WriteAndAnswer(c, p), with its [k] *)

(** The post-state, as the TLA+ text has it: the write [w] is never in
    [writes]; if [CommitAccepted(w, p)] the row takes it ([next = upTo],
    [writer = l.epoch], the outcomes appended) and the window drops its
    first [k] slots, otherwise the row is unchanged and [c] drops [p].
    [writeUpTo] and [answer] are untouched. *)
Definition write_and_answer (s : State) (c : Consumer) (p : Partition) (k : nat) : State :=
  let l := local s c p in
  let L := ledger s p in
  let w := write_of c l k in
  if commit_accepted_b s w p
  then set_local_cp
         (set_ledger s (upd_p (ledger s) p
            (mkLedger (base l + k) (epoch L) (loc_epoch l)
               (effects L ++ wr_effects w) (dlq L ++ wr_dlq w))))
         c p (mkLocal (loc_epoch l) (loc_gen l) (base l + k) (skipn k (win l))
                (writeUpTo l) (answer l))
  else set_local_cp s c p NotHeld.

(** Its enabling condition. *)
Inductive fused_step : State -> State -> Prop :=
| WriteAndAnswer : forall s c p k,
    alive s c = true ->
    Held s c p ->
    writeUpTo (local s c p) = 0 ->
    1 <= k <= FinishedPrefixLen (win (local s c p)) ->
    fused_step s (write_and_answer s c p k).

(** States are equal when every variable is equal at every point (no
    functional extensionality). *)
Definition StateEq (s t : State) : Prop :=
  (forall p, log s p = log t p) /\
  (forall p, owner s p = owner t p) /\
  (forall p, gen s p = gen t p) /\
  (forall c, alive s c = alive t c) /\
  (forall p, brokerOffset s p = brokerOffset t p) /\
  (forall p, ledger s p = ledger t p) /\
  (forall p, dlqTopic s p = dlqTopic t p) /\
  (forall p, writes s p = writes t p) /\
  (forall c p, local s c p = local t c p).

(** ** The composition *)

(** From a state satisfying IInv, WriteAndAnswer(c, p) with [k] is
    WriteLedger(c, p) with [k], ApplyWrite(p, w) of the write it sent, and
    Commit(c, p) if the ledger accepted it or CommitRejected(c, p) if not.
    IInv supplies the two facts the composition needs: [c] has no answer
    (no write in flight: WindowShapeInv), and no write of [c]'s epoch is in
    the database (WriteInFlightInv), so [w] leaves [writes] as it found it. *)
Theorem write_and_answer_is_split : forall s c p k,
  IInv s ->
  alive s c = true ->
  Held s c p ->
  writeUpTo (local s c p) = 0 ->
  1 <= k <= FinishedPrefixLen (win (local s c p)) ->
  exists s1 s2 s3,
    s1 = write_ledger s c p k /\
    s2 = apply_write s1 p (write_of c (local s c p) k) /\
    (s3 = commit s2 c p \/ s3 = commit_rejected s2 c p) /\
    step s s1 /\ step s1 s2 /\ step s2 s3 /\
    StateEq s3 (write_and_answer s c p k).
Proof using.
  intros s c p k H Halive Hheld Hnone Hk.
  set (l := local s c p) in *.
  set (w := write_of c l k).
  set (l1 := mkLocal (loc_epoch l) (loc_gen l) (base l) (win l) (base l + k) (answer l)).
  set (s1 := write_ledger s c p k).
  set (s2 := apply_write s1 p w).
  (* the facts IInv supplies *)
  destruct (iinv_window_shape s H c p) as (_ & _ & _ & Hnoans & _).
  pose proof (Hnoans Hnone) as Hans; fold l in Hans.
  assert (Hfresh : ~ In w (writes s p)).
  { intros Hw; destruct (iinv_write_in_flight s H p) as (HA & _ & _ & HD & _).
    destruct (HD w c Hw eq_refl) as (_ & _ & Hup & _).
    destruct (HA w Hw) as (_ & Hlt & _); fold l in Hup; cbn in Hup, Hlt; lia. }
  (* s1 *)
  assert (Hl1 : local s1 c p = l1) by (apply set_local_cp_same).
  assert (Hw1 : writes s1 p = w :: writes s p) by (cbn; apply upd_p_same).
  assert (Hloc1 : forall d q, d <> c \/ q <> p -> local s1 d q = local s d q).
  { intros d q Hne; unfold s1, write_ledger; cbv zeta.
    destruct (set_local_cp_cases
      (set_writes s (upd_p (writes s) p (write_of c (local s c p) k :: writes s p))) c p
      (mkLocal (loc_epoch (local s c p)) (loc_gen (local s c p)) (base (local s c p))
         (win (local s c p)) (base (local s c p) + k) (answer (local s c p))) d q)
      as [(-> & -> & _) | (_ & ->)]; [destruct Hne; contradiction | reflexivity]. }
  assert (Hstep1 : step s s1) by (apply WriteLedger; assumption).
  (* s2: the sender awaits the answer *)
  assert (Haw : AwaitsAnswer s1 w p).
  { unfold AwaitsAnswer; cbn [wr_c wr_epoch w write_of]; rewrite Hl1; cbn.
    split; [reflexivity | split; [lia | exact Hans]]. }
  assert (Hstep2 : step s1 s2) by (apply ApplyWrite; rewrite Hw1; left; reflexivity).
  assert (Hacc : commit_accepted_b s1 w p = commit_accepted_b s w p) by reflexivity.
  assert (Hl2 : local s2 c p = with_answer l1 (if commit_accepted_b s w p then Committed
                                                 else Rejected)).
  { unfold s2, apply_write.
    destruct (apply_write_local_cases commit_accepted_b s1 p w c p)
      as [(_ & _ & _ & ->) | ([Hn | [Hn | Hn]] & _)].
    - rewrite Hl1, Hacc; reflexivity.
    - contradiction.
    - exfalso; apply Hn; reflexivity.
    - exfalso; apply Hn; reflexivity. }
  assert (Hloc2 : forall d q, d <> c \/ q <> p -> local s2 d q = local s d q).
  { intros d q Hne; unfold s2, apply_write.
    destruct (apply_write_local_cases commit_accepted_b s1 p w d q)
      as [(_ & -> & -> & _) | (_ & ->)]; [destruct Hne; contradiction | apply Hloc1, Hne]. }
  assert (Hwr2 : forall q, writes s2 q = writes s q).
  { intros q; unfold s2, apply_write; rewrite apply_write_writes.
    destruct (upd_p_cases (writes s1) p (remove write_eq_dec w (writes s1 p)) q)
      as [[-> ->] | [Hq ->]].
    - rewrite Hw1.
      change (remove write_eq_dec w (w :: writes s p)) with
        (if write_eq_dec w w then remove write_eq_dec w (writes s p)
         else w :: remove write_eq_dec w (writes s p)).
      destruct (write_eq_dec w w) as [_ | Hn]; [| contradiction].
      apply notin_remove, Hfresh.
    - cbn; unfold upd_p; destruct (partition_eq_dec q p); [contradiction | reflexivity]. }
  assert (Hled2 : forall q, ledger s2 q =
    if commit_accepted_b s w p then upd_p (ledger s) p (apply_ledger (ledger s p) w) q
    else ledger s q).
  { intros q; unfold s2, apply_write; rewrite apply_write_ledger, Hacc.
    destruct (commit_accepted_b s w p); reflexivity. }
  (* the rest of s2 is s *)
  assert (Hrest : log s2 = log s /\ owner s2 = owner s /\ gen s2 = gen s /\
                  alive s2 = alive s /\ brokerOffset s2 = brokerOffset s /\
                  dlqTopic s2 = dlqTopic s).
  { unfold s2, apply_write.
    rewrite apply_write_log, apply_write_owner, apply_write_gen, apply_write_alive,
      apply_write_brokerOffset, apply_write_dlqTopic; repeat split. }
  destruct Hrest as (Elog & Eown & Egen & Ealive & Ebo & Edlq).
  unfold write_and_answer; fold l w.
  destruct (commit_accepted_b s w p) eqn:Eok.
  - (* accepted: Commit *)
    exists s1, s2, (commit s2 c p).
    split; [reflexivity | split; [reflexivity | split; [left; reflexivity |]]].
    split; [exact Hstep1 | split; [exact Hstep2 |]].
    split.
    { apply Commit.
      - rewrite Ealive; exact Halive.
      - unfold Held; rewrite Hl2; exact Hheld.
      - rewrite Hl2; reflexivity. }
    unfold StateEq, commit, write_and_answer.
    split; [intros q; change (log s2 q = log s q); rewrite Elog; reflexivity |].
    split; [intros q; change (owner s2 q = owner s q); rewrite Eown; reflexivity |].
    split; [intros q; change (gen s2 q = gen s q); rewrite Egen; reflexivity |].
    split; [intros d; change (alive s2 d = alive s d); rewrite Ealive; reflexivity |].
    split; [intros q; change (brokerOffset s2 q = brokerOffset s q); rewrite Ebo; reflexivity |].
    split; [intros q; change (ledger s2 q = upd_p (ledger s) p (mkLedger (base l + k)
              (epoch (ledger s p)) (loc_epoch l) (effects (ledger s p) ++ wr_effects w)
              (dlq (ledger s p) ++ wr_dlq w)) q);
            rewrite Hled2; unfold upd_p; destruct (partition_eq_dec q p); reflexivity |].
    split; [intros q; change (dlqTopic s2 q = dlqTopic s q); rewrite Edlq; reflexivity |].
    split; [intros q; apply Hwr2 |].
    intros d q.
    destruct (set_local_cp_cases s2 c p (commit_local (local s2 c p)) d q)
      as [(-> & -> & ->) | (Hne & ->)].
    + rewrite !set_local_cp_same, Hl2; unfold commit_local, with_answer, l1; cbn.
      rewrite Hnone, Hans; replace (base l + k - base l) with k by lia; reflexivity.
    + rewrite (Hloc2 d q Hne).
      destruct (set_local_cp_cases
        (set_ledger s (upd_p (ledger s) p (mkLedger (base l + k) (epoch (ledger s p))
           (loc_epoch l) (effects (ledger s p) ++ wr_effects w)
           (dlq (ledger s p) ++ wr_dlq w)))) c p
        (mkLocal (loc_epoch l) (loc_gen l) (base l + k) (skipn k (win l)) (writeUpTo l)
           (answer l)) d q) as [(-> & -> & _) | (_ & ->)];
        [destruct Hne; contradiction | reflexivity].
  - (* refused: CommitRejected *)
    exists s1, s2, (commit_rejected s2 c p).
    split; [reflexivity | split; [reflexivity | split; [right; reflexivity |]]].
    split; [exact Hstep1 | split; [exact Hstep2 |]].
    split.
    { apply CommitRejected.
      - rewrite Ealive; exact Halive.
      - unfold Held; rewrite Hl2; exact Hheld.
      - rewrite Hl2; reflexivity. }
    unfold StateEq, commit_rejected, write_and_answer.
    split; [intros q; change (log s2 q = log s q); rewrite Elog; reflexivity |].
    split; [intros q; change (owner s2 q = owner s q); rewrite Eown; reflexivity |].
    split; [intros q; change (gen s2 q = gen s q); rewrite Egen; reflexivity |].
    split; [intros d; change (alive s2 d = alive s d); rewrite Ealive; reflexivity |].
    split; [intros q; change (brokerOffset s2 q = brokerOffset s q); rewrite Ebo; reflexivity |].
    split; [intros q; change (ledger s2 q = ledger s q); rewrite Hled2; reflexivity |].
    split; [intros q; change (dlqTopic s2 q = dlqTopic s q); rewrite Edlq; reflexivity |].
    split; [intros q; apply Hwr2 |].
    intros d q.
    destruct (set_local_cp_cases s2 c p NotHeld d q) as [(-> & -> & ->) | (Hne & ->)].
    + rewrite !set_local_cp_same; reflexivity.
    + rewrite (Hloc2 d q Hne).
      destruct (set_local_cp_cases s c p NotHeld d q) as [(-> & -> & _) | (_ & ->)];
        [destruct Hne; contradiction | reflexivity].
Qed.

(** ** Reachability with both kinds of steps *)

(** IInv reads the state only pointwise, so equal states satisfy it alike. *)
Lemma iinv_ext : forall s t, StateEq s t -> IInv s -> IInv t.
Proof using.
  intros s t (E1 & E2 & E3 & E4 & E5 & E6 & E7 & E8 & E9) H.
  destruct H as (Htok & H).
  split.
  - destruct Htok; constructor; intros;
      rewrite <- ?E1, <- ?E5, <- ?E6, <- ?E7, <- ?E8, <- ?E9 in *; eauto.
  - unfold LedgerExactInv, NoDuplicateInv, NoGapInv, OutboxPrefixInv, OffsetOrderInv,
      HolderOrderOK, FencingInv, EpochIssuedOK, WindowShapeInv, AliveHolderInv,
      WriteInFlightInv, WriteRangeOK, AnswerOK, WriteSettled, Held in *.
    setoid_rewrite <- E1; setoid_rewrite <- E4; setoid_rewrite <- E5;
      setoid_rewrite <- E6; setoid_rewrite <- E7; setoid_rewrite <- E8;
      setoid_rewrite <- E9.
    exact H.
Qed.

(** The states reachable from [init] by [step]s and [WriteAndAnswer] steps:
    every behaviour of spec/DCSM.tla with [SplitWrite = FALSE] (whose [Next]
    has WriteAndAnswer in place of WriteLedger, Recover, Commit and
    CommitRejected, and whose ApplyWrite, AbortWrite and LoseAnswer are
    never enabled) and every mix of the two. *)
Inductive ReachableFused : State -> Prop :=
| reachable_fused_init : ReachableFused init
| reachable_fused_step : forall s s', ReachableFused s -> step s s' -> ReachableFused s'
| reachable_fused_write_and_answer : forall s s',
    ReachableFused s -> fused_step s s' -> ReachableFused s'.

(** Every such state satisfies IInv (so the safety invariants): what TLC
    checks with the fused step, the split model guarantees. *)
Theorem iinv_reachable_fused : forall s, ReachableFused s -> IInv s.
Proof using.
  intros s Hr; induction Hr as [| s s' _ IH Hstep | s s' _ IH Hfused].
  - apply iinv_init.
  - apply (iinv_step s); assumption.
  - destruct Hfused as [s c p k Halive Hheld Hnone Hk].
    destruct (write_and_answer_is_split s c p k IH Halive Hheld Hnone Hk)
      as (s1 & s2 & s3 & _ & _ & _ & H1 & H2 & H3 & Heq).
    apply (iinv_ext s3); [exact Heq |].
    apply (iinv_step s2); [| exact H3].
    apply (iinv_step s1); [| exact H2].
    apply (iinv_step s); [exact IH | exact H1].
Qed.

End Atomic.
