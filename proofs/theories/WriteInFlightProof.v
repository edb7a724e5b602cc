(** * WriteInFlightInv is preserved by every action. *)

From Coq Require Import List Arith Bool Lia Setoid.
Import ListNotations.
From DCSM Require Import State Step Util StateLemmas WindowLemmas IInv.

Section WriteInFlightProof.
Context {params : Params}.

(** The conjunct at one partition: [WriteInFlightInv s] is [forall p,
    WriteInFlightAt s p] (the same term). *)
Definition WriteInFlightAt (s : State) (p : Partition) : Prop :=
  (forall w, In w (writes s p) -> WriteRangeOK s w p) /\
  (forall w, In w (writes s p) ->
     wr_epoch w = epoch (ledger s p) -> expectedNext w = next (ledger s p)) /\
  (forall v w, In v (writes s p) -> In w (writes s p) -> wr_epoch v = wr_epoch w -> v = w) /\
  (forall w c, In w (writes s p) -> loc_epoch (local s c p) = wr_epoch w ->
     c = wr_c w /\
     base (local s c p) = expectedNext w /\
     writeUpTo (local s c p) = upTo w /\
     (answer (local s c p) = NoAnswer \/ answer (local s c p) = Unknown)) /\
  (forall c, AnswerOK s (local s c p) p).

Lemma wif_at : forall s p, WriteInFlightInv s -> WriteInFlightAt s p.
Proof using. intros s p H; exact (H p). Qed.

(** ** Settled writes *)

(** Over a list, [~ WriteSettled] has a witness (no classical reasoning). *)
Lemma not_settled_exists : forall s p e,
  ~ WriteSettled s p e -> exists w, In w (writes s p) /\ wr_epoch w = e.
Proof using.
  intros s p e; unfold WriteSettled; induction (writes s p) as [| v ws IH]; intros Hn.
  - exfalso; apply Hn; intros w [].
  - destruct (Nat.eq_dec (wr_epoch v) e) as [E | E].
    + exists v; split; [left; reflexivity | exact E].
    + destruct IH as (w & Hw & Ew).
      * intros Hs; apply Hn; intros w [<- | Hw]; [exact E | apply Hs, Hw].
      * exists w; split; [right; exact Hw | exact Ew].
Qed.

(** A write of a held epoch has a non-zero upTo. *)
Lemma range_upTo_pos : forall s w p, WriteRangeOK s w p -> upTo w <> 0.
Proof using. intros s w p (_ & Hlt & _); lia. Qed.

Lemma range_epoch_pos : forall s w p, WriteRangeOK s w p -> wr_epoch w <> 0.
Proof using. intros s w p ((Hpos & _) & _); lia. Qed.

(** ** Frames *)

(** The conjunct at [q] reads only the row, the log end, the writes and the
    views at [q]. *)
Lemma wif_at_ext : forall s s' q,
  ledger s' q = ledger s q -> log s' q = log s q -> writes s' q = writes s q ->
  (forall d, local s' d q = local s d q) ->
  WriteInFlightAt s q -> WriteInFlightAt s' q.
Proof using.
  intros s s' q El Elog Ew Eloc H.
  unfold WriteInFlightAt, WriteRangeOK, AnswerOK, WriteSettled in *.
  rewrite El, Elog, Ew; setoid_rewrite Eloc; exact H.
Qed.

(** Actions that change no write and no row, do not shorten the log, and
    only keep or drop views. *)
Lemma wif_frame_drop : forall s s',
  (forall q, log s q <= log s' q) ->
  (forall q, ledger s' q = ledger s q) ->
  (forall q, writes s' q = writes s q) ->
  (forall d q, local s' d q = local s d q \/ local s' d q = NotHeld) ->
  WriteInFlightInv s -> WriteInFlightInv s'.
Proof using.
  intros s s' Hlog El Ew Eloc H q.
  destruct (H q) as (HA & HB & HC & HD & HE).
  unfold WriteRangeOK, AnswerOK, WriteSettled in *.
  rewrite El, Ew; split; [| split; [| split; [| split]]].
  - intros w Hw; destruct (HA w Hw) as (H1 & H2 & H3 & H4); specialize (Hlog q).
    split; [exact H1 | split; [exact H2 | split; [lia | exact H4]]].
  - exact HB.
  - exact HC.
  - intros w d Hw Hd; destruct (Eloc d q) as [E | E]; rewrite E in *.
    + apply HD; assumption.
    + destruct (HA w Hw) as ((H1 & _) & _); cbn in Hd; lia.
  - intros d; destruct (Eloc d q) as [E | E]; rewrite E; [apply HE |].
    cbn; split; [intros (Hn & _); exfalso; apply Hn; reflexivity | discriminate].
Qed.

(** Consumer actions that replace one view and change nothing else. *)
Lemma wif_set_local_cp : forall s c p l,
  WriteInFlightInv s ->
  (forall w, In w (writes s p) -> loc_epoch l = wr_epoch w ->
     c = wr_c w /\ base l = expectedNext w /\ writeUpTo l = upTo w /\
     (answer l = NoAnswer \/ answer l = Unknown)) ->
  AnswerOK s l p ->
  WriteInFlightInv (set_local_cp s c p l).
Proof using.
  intros s c p l H Hd He q; destruct (H q) as (HA & HB & HC & HD & HE).
  split; [exact HA | split; [exact HB | split; [exact HC | split]]].
  - intros w d Hw; destruct (set_local_cp_cases s c p l d q) as [(-> & -> & ->) | (_ & ->)].
    + apply Hd, Hw.
    + apply HD, Hw.
  - intros d; destruct (set_local_cp_cases s c p l d q) as [(-> & -> & ->) | (_ & ->)];
      [exact He | apply HE].
Qed.

(** The window actions keep every field WriteInFlightInv reads. *)
Lemma wif_set_win : forall s c p w,
  WriteInFlightInv s -> WriteInFlightInv (set_win s c p w).
Proof using.
  intros s c p w H; unfold set_win; cbv zeta.
  destruct (H p) as (_ & _ & _ & HD & HE).
  apply wif_set_local_cp; [exact H | | exact (HE c)].
  intros v Hv Hep; apply HD; assumption.
Qed.

Lemma wif_drop : forall s c p,
  WriteInFlightInv s -> WriteInFlightInv (set_local_cp s c p NotHeld).
Proof using.
  intros s c p; apply wif_frame_drop; auto.
  intros d q; destruct (set_local_cp_cases s c p NotHeld d q) as [(_ & _ & ->) | (_ & ->)];
    auto.
Qed.

(** ** The actions *)

(** A longer log keeps every write within it. *)
Lemma write_in_flight_inv_Produce : forall s p,
  IInv s -> WriteInFlightInv (produce s p).
Proof using.
  intros s p H; apply (wif_frame_drop s); auto; [| apply H].
  intros q; cbn; destruct (upd_p_cases (log s) p (S (log s p)) q) as [[-> ->] | [_ ->]]; lia.
Qed.

Lemma write_in_flight_inv_Rebalance : forall s p oc,
  IInv s -> WriteInFlightInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

(** A write outlives its sender's crash; the crashed views hold nothing. *)
Lemma write_in_flight_inv_Crash : forall s c,
  IInv s -> WriteInFlightInv (crash s c).
Proof using.
  intros s c H; apply (wif_frame_drop s); auto; [| apply H].
  intros d q; destruct (crash_local_cases s c d q) as [[_ ->] | [_ ->]]; auto.
Qed.

Lemma write_in_flight_inv_Restart : forall s c,
  IInv s -> WriteInFlightInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The fence issues an epoch above every write's (FencingInv): no write
    has it, and the new holder has no write in flight. *)
Lemma write_in_flight_inv_Assign : forall s c p,
  IInv s -> WriteInFlightInv (assign s c p).
Proof using.
  intros s c p H; unfold assign; cbv zeta.
  set (L := fence (ledger s p)); set (s1 := set_ledger s (upd_p (ledger s) p L)).
  set (l := mkLocal (S (epoch (ledger s p))) (gen s p) (next (ledger s p)) [] 0 NoAnswer).
  pose proof (iinv_write_in_flight s H) as Hwif.
  intros q; destruct (partition_eq_dec q p) as [-> | Hq].
  2: { apply (wif_at_ext s); [| reflexivity | reflexivity | | exact (Hwif q)].
       - cbn; unfold upd_p; destruct (partition_eq_dec q p); [contradiction | reflexivity].
       - intros d; destruct (set_local_cp_cases s1 c p l d q) as [(_ & -> & _) | (_ & ->)];
           [contradiction | reflexivity]. }
  destruct (Hwif p) as (HA & HB & HC & HD & HE).
  destruct (iinv_fencing s H p) as (_ & Hle & Hwle & _); unfold EpochIssuedOK in Hle.
  assert (El : ledger (set_local_cp s1 c p l) p = L) by (cbn; apply upd_p_same).
  change (writes (set_local_cp s1 c p l)) with (writes s).
  change (log (set_local_cp s1 c p l)) with (log s).
  unfold WriteRangeOK, AnswerOK, WriteSettled in *; rewrite El; unfold L; cbn [fence next epoch].
  split; [| split; [| split; [| split]]].
  - intros w Hw; destruct (HA w Hw) as ((H1 & H2) & H3); split; [split; lia | exact H3].
  - intros w Hw E; specialize (Hwle w Hw); lia.
  - exact HC.
  - intros w d Hw Hd.
    destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & E) | (_ & E)];
      rewrite E in Hd |- *.
    + specialize (Hwle w Hw); cbn in Hd; lia.
    + apply HD; assumption.
  - intros d; destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (_ & ->)].
    + cbn; split; [intros (_ & Hn & _); exfalso; apply Hn; reflexivity | discriminate].
    + destruct (HE d) as [HE1 HE2]; split; [exact HE1 |].
      intros Ha; destruct (HE2 Ha) as [Hx _]; split; [exact Hx |].
      intros E; specialize (Hle d); change (local s1) with (local s) in E; lia.
Qed.

Lemma write_in_flight_inv_Revoke : forall s c p,
  IInv s -> WriteInFlightInv (revoke s c p).
Proof using. intros s c p H; apply wif_drop, H. Qed.

Lemma write_in_flight_inv_Fetch : forall s c p,
  IInv s -> WriteInFlightInv (fetch s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

Lemma write_in_flight_inv_Begin : forall s c p,
  IInv s -> WriteInFlightInv (begin s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

Lemma write_in_flight_inv_Succeed : forall s c p,
  IInv s -> WriteInFlightInv (succeed s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

Lemma write_in_flight_inv_Fail : forall s c p,
  IInv s -> WriteInFlightInv (fail s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

Lemma write_in_flight_inv_Retry : forall s c p,
  IInv s -> WriteInFlightInv (retry s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

Lemma write_in_flight_inv_DeadLetter : forall s c p,
  IInv s -> WriteInFlightInv (dead_letter s c p).
Proof using. intros s c p H; apply wif_set_win, H. Qed.

(** The new write is well formed: it carries the outcomes of the first [k]
    finished slots of a window within the log, under the sender's issued
    epoch; it expects the ledger's next if that epoch is current
    (OffsetOrderInv, no write was in flight); it is the only write of its
    epoch, since a write of the sender's epoch would be its write in flight
    (WriteInFlightInv) and it had none; and no other consumer holds that
    epoch (FencingInv). *)
Lemma write_in_flight_inv_WriteLedger : forall s c p k,
  IInv s -> Held s c p -> writeUpTo (local s c p) = 0 ->
  1 <= k <= FinishedPrefixLen (win (local s c p)) ->
  WriteInFlightInv (write_ledger s c p k).
Proof using.
  intros s c p k H Hheld Hnone Hk; unfold Held in Hheld.
  pose proof (iinv_write_in_flight s H) as Hwif.
  destruct (iinv_fencing s H p) as (_ & Hle & _ & Hdis); unfold EpochIssuedOK in Hle.
  destruct (iinv_offset_order s H p) as (_ & _ & Hord).
  destruct (Hord c Hheld) as (_ & Hpos & Hcur).
  destruct (iinv_window_shape s H c p) as (_ & _ & _ & Hnoans & _).
  pose proof (Hnoans Hnone) as Hans.
  pose proof (fpl_le_length (win (local s c p))) as Hfpl.
  specialize (Hle c).
  unfold write_ledger; cbv zeta.
  set (l := local s c p) in *.
  set (w0 := write_of c l k).
  set (l' := mkLocal (loc_epoch l) (loc_gen l) (base l) (win l) (base l + k) (answer l)).
  set (s1 := set_writes s (upd_p (writes s) p (w0 :: writes s p))).
  intros q; destruct (partition_eq_dec q p) as [-> | Hq].
  2: { apply (wif_at_ext s); [reflexivity | reflexivity | | | exact (Hwif q)].
       - cbn; unfold upd_p; destruct (partition_eq_dec q p); [contradiction | reflexivity].
       - intros d; destruct (set_local_cp_cases s1 c p l' d q) as [(_ & -> & _) | (_ & ->)];
           [contradiction | reflexivity]. }
  destruct (Hwif p) as (HA & HB & HC & HD & HE).
  assert (Ew : writes (set_local_cp s1 c p l') p = w0 :: writes s p) by (cbn; apply upd_p_same).
  (* a write of c's epoch would be c's write in flight, and c has none *)
  assert (Hfresh : forall v, In v (writes s p) -> wr_epoch v <> loc_epoch l).
  { intros v Hv E; destruct (HD v c Hv (eq_sym E)) as (_ & _ & Hup & _).
    apply (range_upTo_pos s v p (HA v Hv)); fold l in Hup; lia. }
  unfold WriteRangeOK, AnswerOK, WriteSettled in *; rewrite Ew.
  change (ledger (set_local_cp s1 c p l')) with (ledger s).
  change (log (set_local_cp s1 c p l')) with (log s).
  split; [| split; [| split; [| split]]].
  - intros v [<- | Hv]; [| apply HA, Hv].
    unfold w0, write_of; cbn [wr_epoch expectedNext upTo wr_effects wr_dlq].
    split; [lia | split; [lia | split; [lia | split]]].
    + intros o; rewrite in_app_iff; split.
      * intros [Ho | Ho]; apply offsets_in_bounds in Ho; lia.
      * intros Ho; apply offsets_in_cover; lia.
    + apply nodup_app_intro; try apply offsets_in_nodup.
      intros x Hd Hl; pose proof (offsets_in_state_unique k (win l) (base l) _ _ x Hd Hl);
        discriminate.
  - intros v [<- | Hv] Hep; [| apply HB; assumption].
    cbn in Hep |- *; destruct (Hcur Hep) as [Hb | [Hw _]]; [exact Hb | contradiction].
  - intros v v' [<- | Hv] [<- | Hv'] Hep; try reflexivity.
    + exfalso; apply (Hfresh v' Hv'); cbn in Hep; congruence.
    + exfalso; apply (Hfresh v Hv); cbn in Hep; congruence.
    + apply HC; assumption.
  - intros v d [<- | Hv] Hd;
      destruct (set_local_cp_cases s1 c p l' d p) as [(-> & _ & E) | (Hne & E)];
      rewrite E in Hd |- *; change (local s1) with (local s) in *.
    + cbn; split; [reflexivity | split; [reflexivity | split; [reflexivity | left; exact Hans]]].
    + exfalso; destruct Hne as [Hne | Hne]; [| contradiction].
      cbn in Hd; apply (Hdis d c Hne); [unfold Held; lia | exact Hheld | exact Hd].
    + exfalso; apply (Hfresh v Hv); cbn in Hd; congruence.
    + apply HD; assumption.
  - intros d; destruct (set_local_cp_cases s1 c p l' d p) as [(-> & _ & ->) | (_ & ->)];
      change (local s1) with (local s) in *.
    + split; [intros _ Hset; exact (Hset w0 (or_introl eq_refl) eq_refl) |].
      cbn; intros Ha; congruence.
    + destruct (HE d) as [HE1 HE2]; split; [| exact HE2].
      intros Hpre Hset; apply (HE1 Hpre); intros v Hv; apply Hset; right; exact Hv.
Qed.

(** The database settles [w]: the row moves iff the write is accepted, and
    its sender, if it awaits the answer, gets it. *)
Lemma write_in_flight_inv_ApplyWrite : forall s p w,
  IInv s -> In w (writes s p) -> WriteInFlightInv (apply_write s p w).
Proof using.
  intros s p w H Hw.
  pose proof (iinv_write_in_flight s H) as Hwif.
  unfold apply_write; set (s' := apply_write_with commit_accepted_b s p w).
  intros q; destruct (partition_eq_dec q p) as [-> | Hq].
  2: { apply (wif_at_ext s); [| | | | exact (Hwif q)]; unfold s'.
       - rewrite apply_write_ledger; destruct (commit_accepted_b s w p); [| reflexivity].
         unfold upd_p; destruct (partition_eq_dec q p); [contradiction | reflexivity].
       - rewrite apply_write_log; reflexivity.
       - rewrite apply_write_writes; unfold upd_p;
           destruct (partition_eq_dec q p); [contradiction | reflexivity].
       - intros d; destruct (apply_write_local_cases commit_accepted_b s p w d q)
           as [(_ & _ & -> & _) | (_ & ->)]; [contradiction | reflexivity]. }
  pose proof (Hwif p) as Hat; destruct (Hwif p) as (HA & HB & HC & HD & HE).
  assert (Ews : forall v, In v (writes s' p) <-> In v (writes s p) /\ v <> w).
  { intros v; unfold s'; rewrite apply_write_writes, upd_p_same; apply in_remove_iff. }
  assert (Elog : log s' p = log s p) by (unfold s'; rewrite apply_write_log; reflexivity).
  destruct (HA w Hw) as (_ & Hlt & _).
  (* the row after the step *)
  assert (El : (commit_accepted_b s w p = true /\ ledger s' p = apply_ledger (ledger s p) w) \/
               (commit_accepted_b s w p = false /\ ledger s' p = ledger s p)).
  { unfold s'; rewrite apply_write_ledger; destruct (commit_accepted_b s w p) eqn:Eok.
    - left; split; [reflexivity | apply upd_p_same].
    - right; split; reflexivity. }
  assert (Eep : epoch (ledger s' p) = epoch (ledger s p))
    by (destruct El as [(_ & ->) | (_ & ->)]; reflexivity).
  unfold WriteRangeOK, AnswerOK, WriteSettled in *; rewrite Elog, Eep.
  split; [| split; [| split; [| split]]].
  - intros v Hv; apply Ews in Hv as [Hv _]; apply HA, Hv.
  - intros v Hv Hep; apply Ews in Hv as [Hv Hne].
    destruct El as [(Eok & _) | (_ & ->)]; [| apply HB; assumption].
    apply commit_accepted_b_spec in Eok; destruct Eok as [Hwep _].
    exfalso; apply Hne, HC; [exact Hv | exact Hw | congruence].
  - intros v v' Hv Hv' Hep; apply Ews in Hv as [Hv _]; apply Ews in Hv' as [Hv' _].
    apply HC; assumption.
  - intros v d Hv Hd; apply Ews in Hv as [Hv Hne].
    destruct (apply_write_local_cases commit_accepted_b s p w d p)
      as [((Haw & _) & -> & _ & E) | (_ & E)]; fold s' in E; rewrite E in Hd |- *.
    + exfalso; apply Hne, HC; [exact Hv | exact Hw | cbn in Hd; congruence].
    + apply HD; assumption.
  - intros d; destruct (apply_write_local_cases commit_accepted_b s p w d p)
      as [((Haw & _) & -> & _ & E) | (Hnot & E)]; fold s' in E; rewrite E.
    + (* the sender gets its answer *)
      destruct (HD w (wr_c w) Hw Haw) as (_ & _ & Hup & _).
      cbn [with_answer answer writeUpTo loc_epoch].
      split; [intros (_ & _ & Ha); destruct (commit_accepted_b s w p); discriminate |].
      intros Ha; destruct El as [(Eok & ->) | (Eok & _)]; rewrite Eok in Ha; [| discriminate].
      cbn; split; lia.
    + destruct (HE d) as [HE1 HE2]; split.
      * intros Hpre Hset; apply (HE1 Hpre); intros v Hv Hvep.
        destruct (write_eq_dec v w) as [-> | Hne].
        -- destruct (HD w d Hw (eq_sym Hvep)) as (-> & _ & _ & _).
           destruct Hnot as [Hnot | [Hnot | Hnot]]; [| apply Hnot; reflexivity ..].
           apply Hnot; split; [congruence | split; apply Hpre].
        -- apply (Hset v); [apply Ews; split; assumption | exact Hvep].
      * intros Ha; destruct (HE2 Ha) as [Hle Hcur].
        destruct El as [(Eok & ->) | (_ & ->)]; [| split; assumption].
        apply commit_accepted_b_spec in Eok; destruct Eok as [Hwep Hexp].
        cbn [apply_ledger next epoch]; split; [lia |].
        intros Hep; exfalso; destruct (HD w d Hw ltac:(congruence)) as (_ & _ & _ & [Hx | Hx]);
          congruence.
Qed.

(** A write leaves unapplied: nothing is told, and its sender did not await
    an answer on it (the guard), so every view that awaits one still has its
    write in the database. *)
Lemma write_in_flight_inv_AbortWrite : forall s p w,
  IInv s -> ~ AwaitsAnswer s w p -> WriteInFlightInv (abort_write s p w).
Proof using.
  intros s p w H Hnot.
  pose proof (iinv_write_in_flight s H) as Hwif.
  intros q; destruct (partition_eq_dec q p) as [-> | Hq].
  2: { apply (wif_at_ext s); [reflexivity | reflexivity | | | exact (Hwif q)].
       - cbn; unfold upd_p; destruct (partition_eq_dec q p); [contradiction | reflexivity].
       - intros d; reflexivity. }
  destruct (Hwif p) as (HA & HB & HC & HD & HE).
  assert (Ews : forall v, In v (writes (abort_write s p w) p) <-> In v (writes s p) /\ v <> w).
  { intros v; cbn; rewrite upd_p_same; apply in_remove_iff. }
  unfold WriteRangeOK, AnswerOK, WriteSettled in *.
  change (ledger (abort_write s p w)) with (ledger s).
  change (log (abort_write s p w)) with (log s).
  change (local (abort_write s p w)) with (local s).
  split; [| split; [| split; [| split]]].
  - intros v Hv; apply Ews in Hv as [Hv _]; apply HA, Hv.
  - intros v Hv; apply Ews in Hv as [Hv _]; apply HB, Hv.
  - intros v v' Hv Hv'; apply Ews in Hv as [Hv _]; apply Ews in Hv' as [Hv' _].
    apply HC; assumption.
  - intros v d Hv; apply Ews in Hv as [Hv _]; apply HD, Hv.
  - intros d; destruct (HE d) as [HE1 HE2]; split; [| exact HE2].
    intros Hpre Hset; apply (HE1 Hpre); intros v Hv Hvep.
    destruct (write_eq_dec v w) as [-> | Hne].
    + destruct (HD w d Hv (eq_sym Hvep)) as (-> & _ & _ & _).
      apply Hnot; split; [congruence | split; apply Hpre].
    + apply (Hset v); [apply Ews; split; assumption | exact Hvep].
Qed.

(** The lost answer becomes Unknown: the write stays the view's write in
    flight, and Unknown is no answer AnswerOK constrains. *)
Lemma write_in_flight_inv_LoseAnswer : forall s c p,
  IInv s -> WriteInFlightInv (lose_answer s c p).
Proof using.
  intros s c p H; pose proof (iinv_write_in_flight s H) as Hwif.
  destruct (Hwif p) as (_ & _ & _ & HD & _).
  apply wif_set_local_cp; [exact Hwif | |].
  - intros v Hv Hep; destruct (HD v c Hv Hep) as (H1 & H2 & H3 & _).
    split; [exact H1 | split; [exact H2 | split; [exact H3 | right; reflexivity]]].
  - split; cbn; [intros (_ & _ & E); discriminate | discriminate].
Qed.

(** Recover reads the row once no write of its epoch is left (the guard),
    so no write's holder changes; it answers Committed only if the row is
    at its write's upTo under its epoch. *)
Lemma write_in_flight_inv_Recover : forall s c p,
  IInv s -> WriteSettled s p (loc_epoch (local s c p)) -> WriteInFlightInv (recover s c p).
Proof using.
  intros s c p H Hset; pose proof (iinv_write_in_flight s H) as Hwif.
  unfold recover; cbv zeta.
  apply wif_set_local_cp; [exact Hwif | |].
  - intros v Hv Hep; cbn in Hep; exfalso; exact (Hset v Hv (eq_sym Hep)).
  - unfold AnswerOK, RecoverDecision; cbn [loc_epoch writeUpTo answer].
    destruct (Nat.eqb (epoch (ledger s p)) (loc_epoch (local s c p)) &&
              Nat.eqb (next (ledger s p)) (writeUpTo (local s c p))) eqn:E1.
    + apply andb_prop in E1 as [Ee En]; apply Nat.eqb_eq in Ee, En.
      split; [intros (_ & _ & Ha); discriminate | intros _; split; lia].
    + destruct (Nat.eqb (epoch (ledger s p)) (loc_epoch (local s c p)) &&
                Nat.eqb (next (ledger s p)) (base (local s c p))).
      * split; [intros (_ & Hn & _); exfalso; apply Hn; reflexivity | discriminate].
      * split; [intros (_ & _ & Ha); discriminate | discriminate].
Qed.

(** A Committed view had no write left in the database (WriteInFlightInv:
    its epoch's write awaits an answer or lost it); afterwards it has no
    write in flight. *)
Lemma write_in_flight_inv_Commit : forall s c p,
  IInv s -> answer (local s c p) = Committed -> WriteInFlightInv (commit s c p).
Proof using.
  intros s c p H Hans; pose proof (iinv_write_in_flight s H) as Hwif.
  destruct (Hwif p) as (_ & _ & _ & HD & _).
  apply wif_set_local_cp; [exact Hwif | |].
  - intros v Hv Hep; cbn in Hep; exfalso.
    destruct (HD v c Hv Hep) as (_ & _ & _ & [Ha | Ha]); congruence.
  - split; cbn; [intros (_ & Hn & _); exfalso; apply Hn; reflexivity | discriminate].
Qed.

Lemma write_in_flight_inv_CommitRejected : forall s c p,
  IInv s -> WriteInFlightInv (commit_rejected s c p).
Proof using. intros s c p H; apply wif_drop, H. Qed.

Lemma write_in_flight_inv_CommitBroker : forall s c p,
  IInv s -> WriteInFlightInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma write_in_flight_inv_PublishDeadLetter : forall s p,
  IInv s -> WriteInFlightInv (publish_dead_letter s p).
Proof using. intros s p H; apply H. Qed.

Lemma write_in_flight_inv_init : WriteInFlightInv init.
Proof using.
  intros p; cbn; split; [intros w [] | split; [intros w [] | split; [intros v w [] |]]].
  split; [intros w c [] |].
  intros c; split; cbn; [intros (Hn & _); exfalso; apply Hn; reflexivity | discriminate].
Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma write_in_flight_inv_step : forall s s',
  IInv s -> step s s' -> WriteInFlightInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply write_in_flight_inv_Produce; assumption.
  - apply write_in_flight_inv_Rebalance; assumption.
  - apply write_in_flight_inv_Crash; assumption.
  - apply write_in_flight_inv_Restart; assumption.
  - apply write_in_flight_inv_Assign; assumption.
  - apply write_in_flight_inv_Revoke; assumption.
  - apply write_in_flight_inv_Fetch; assumption.
  - apply write_in_flight_inv_Begin; assumption.
  - apply write_in_flight_inv_Succeed; assumption.
  - apply write_in_flight_inv_Fail; assumption.
  - apply write_in_flight_inv_Retry; assumption.
  - apply write_in_flight_inv_DeadLetter; assumption.
  - apply write_in_flight_inv_WriteLedger; assumption.
  - apply write_in_flight_inv_ApplyWrite; assumption.
  - apply write_in_flight_inv_AbortWrite; assumption.
  - apply write_in_flight_inv_LoseAnswer; assumption.
  - apply write_in_flight_inv_Recover; assumption.
  - apply write_in_flight_inv_Commit; assumption.
  - apply write_in_flight_inv_CommitRejected; assumption.
  - apply write_in_flight_inv_CommitBroker; assumption.
  - apply write_in_flight_inv_PublishDeadLetter; assumption.
Qed.

End WriteInFlightProof.
