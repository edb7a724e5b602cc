(** * FencingInv is preserved by every action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step StateLemmas IInv.

Section FencingProof.
Context {params : Params}.

(** FencingInv reads only the ledger's epochs and writers, the writes'
    epochs and the consumers' epochs.  An action that keeps the ledger's
    epochs, sets writers to the current epoch at most, adds only writes of
    issued epochs, and either keeps a consumer's epoch or drops it to 0 (not
    held) preserves it.  Every action but Assign is of this kind. *)
Lemma fencing_frame : forall s s',
  (forall q, epoch (ledger s' q) = epoch (ledger s q)) ->
  (forall q, writer (ledger s' q) = writer (ledger s q) \/
             writer (ledger s' q) = epoch (ledger s q)) ->
  (forall d q, loc_epoch (local s' d q) = loc_epoch (local s d q) \/
               loc_epoch (local s' d q) = 0) ->
  (forall q w, In w (writes s' q) -> In w (writes s q) \/ wr_epoch w <= epoch (ledger s q)) ->
  FencingInv s -> FencingInv s'.
Proof using.
  intros s s' Hep Hwr Hloc Hwrites H p; unfold Held, EpochIssuedOK.
  destruct (H p) as (Hw & Hle & Hwle & Hdis); rewrite !Hep; split; [| split; [| split]].
  - destruct (Hwr p) as [-> | ->]; auto.
  - intros c; destruct (Hloc c p) as [-> | ->]; [apply Hle | lia].
  - intros w Hin; destruct (Hwrites p w Hin) as [Hin' | Hle']; [apply Hwle, Hin' | exact Hle'].
  - intros c d Hcd Hc Hd.
    destruct (Hloc c p) as [Ec | Ec]; [| contradiction].
    destruct (Hloc d p) as [Ed | Ed]; [| contradiction].
    rewrite Ec, Ed in *; apply Hdis; assumption.
Qed.

(** Consumer c's epoch at (c, p) is kept or dropped; nothing else changes. *)
Lemma fencing_set_local_cp : forall s c p l,
  loc_epoch l = loc_epoch (local s c p) \/ loc_epoch l = 0 ->
  FencingInv s -> FencingInv (set_local_cp s c p l).
Proof using.
  intros s c p l Hl; apply fencing_frame; auto.
  intros d q; destruct (set_local_cp_cases s c p l d q) as [(-> & -> & ->) | (_ & ->)];
    auto.
Qed.

Lemma fencing_set_win : forall s c p w,
  FencingInv s -> FencingInv (set_win s c p w).
Proof using.
  intros s c p w; apply fencing_set_local_cp; left; reflexivity.
Qed.

Lemma fencing_inv_Produce : forall s p,
  IInv s -> FencingInv (produce s p).
Proof using. intros s p H; apply H. Qed.

Lemma fencing_inv_Rebalance : forall s p oc,
  IInv s -> FencingInv (rebalance s p oc).
Proof using. intros s p oc H; apply H. Qed.

Lemma fencing_inv_Crash : forall s c,
  IInv s -> FencingInv (crash s c).
Proof using.
  intros s c H; apply (fencing_frame s); auto; [| apply H].
  intros d q; destruct (crash_local_cases s c d q) as [[_ ->] | [_ ->]]; auto.
Qed.

Lemma fencing_inv_Restart : forall s c,
  IInv s -> FencingInv (restart s c).
Proof using. intros s c H; apply H. Qed.

(** The fence issues an epoch above every epoch any consumer holds, so the
    new holder's epoch is unique, and no commit has been made under it. *)
Lemma fencing_inv_Assign : forall s c p,
  IInv s -> FencingInv (assign s c p).
Proof using.
  intros s c p H q; unfold assign, Held, EpochIssuedOK; cbv zeta.
  set (L := fence (ledger s p)); set (s1 := set_ledger s (upd_p (ledger s) p L)).
  set (l := mkLocal (S (epoch (ledger s p))) (gen s p) (next (ledger s p)) [] 0 NoAnswer).
  change (ledger (set_local_cp s1 c p l) q) with (upd_p (ledger s) p L q).
  destruct (iinv_fencing s H q) as (Hw & Hle & Hwle & Hdis); unfold EpochIssuedOK in Hle.
  change (writes (set_local_cp s1 c p l)) with (writes s).
  destruct (upd_p_cases (ledger s) p L q) as [[-> ->] | [Hq ->]].
  - (* the fenced partition: the holder's epoch is above all others *)
    unfold L; cbn [fence writer epoch]; split; [auto | split; [| split]].
    + intros d; destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (_ & ->)];
        cbn; [lia | specialize (Hle d); lia].
    + intros w Hin; specialize (Hwle w Hin); lia.
    + intros d e Hde.
      destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (Hd & ->)];
      destruct (set_local_cp_cases s1 c p l e p) as [(-> & _ & ->) | (He & ->)]; cbn.
      * contradiction.
      * specialize (Hle e); lia.
      * specialize (Hle d); lia.
      * apply Hdis; assumption.
  - (* another partition: nothing it reads changed *)
    split; [exact Hw | split; [| split; [exact Hwle |]]].
    + intros d; destruct (set_local_cp_cases s1 c p l d q) as [(_ & -> & _) | (_ & ->)];
        [contradiction | apply Hle].
    + intros d e Hde.
      destruct (set_local_cp_cases s1 c p l d q) as [(_ & -> & _) | (_ & ->)];
        [contradiction |].
      destruct (set_local_cp_cases s1 c p l e q) as [(_ & -> & _) | (_ & ->)];
        [contradiction |].
      apply Hdis; assumption.
Qed.

Lemma fencing_inv_Revoke : forall s c p,
  IInv s -> FencingInv (revoke s c p).
Proof using.
  intros s c p H; apply fencing_set_local_cp; [right; reflexivity | apply H].
Qed.

Lemma fencing_inv_Fetch : forall s c p,
  IInv s -> FencingInv (fetch s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

Lemma fencing_inv_Begin : forall s c p,
  IInv s -> FencingInv (begin s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

Lemma fencing_inv_Succeed : forall s c p,
  IInv s -> FencingInv (succeed s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

Lemma fencing_inv_Fail : forall s c p,
  IInv s -> FencingInv (fail s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

Lemma fencing_inv_Retry : forall s c p,
  IInv s -> FencingInv (retry s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

Lemma fencing_inv_DeadLetter : forall s c p,
  IInv s -> FencingInv (dead_letter s c p).
Proof using. intros s c p H; apply fencing_set_win, H. Qed.

(** The new write carries the sender's epoch, which the ledger issued. *)
Lemma fencing_inv_WriteLedger : forall s c p k,
  IInv s -> FencingInv (write_ledger s c p k).
Proof using.
  intros s c p k H; unfold write_ledger; cbv zeta.
  apply (fencing_frame s); try (intros; reflexivity); try (intros; left; reflexivity).
  - intros d q; destruct (set_local_cp_cases
      (set_writes s (upd_p (writes s) p (write_of c (local s c p) k :: writes s p))) c p
      (mkLocal (loc_epoch (local s c p)) (loc_gen (local s c p)) (base (local s c p))
         (win (local s c p)) (base (local s c p) + k) (answer (local s c p))) d q)
      as [(-> & -> & ->) | (_ & ->)]; auto.
  - intros q w Hin; cbn in Hin; apply upd_p_writes_in in Hin as [[-> [<- | Hin]] | [_ Hin]];
      auto.
    right; cbn; apply (iinv_fencing s H p).
  - apply H.
Qed.

(** The ledger only applies a write of its current epoch, so the writer it
    records is that epoch. *)
Lemma fencing_inv_ApplyWrite : forall s p w,
  IInv s -> FencingInv (apply_write s p w).
Proof using.
  intros s p w H; unfold apply_write; apply (fencing_frame s).
  - intros q; rewrite apply_write_ledger.
    destruct (commit_accepted_b s w p); [| reflexivity].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) q)
      as [[-> ->] | [_ ->]]; reflexivity.
  - intros q; rewrite apply_write_ledger.
    destruct (commit_accepted_b s w p) eqn:Eok; [| auto].
    apply commit_accepted_b_spec in Eok; destruct Eok as [Hep _].
    destruct (upd_p_cases (ledger s) p (apply_ledger (ledger s p) w) q)
      as [[-> ->] | [_ ->]]; [right; exact Hep | auto].
  - intros d q; left; apply apply_write_local_epoch.
  - intros q v; rewrite apply_write_writes, upd_p_writes_in.
    intros [[-> Hin] | [_ Hin]]; left; [apply in_remove_iff in Hin; apply Hin | exact Hin].
  - apply H.
Qed.

Lemma fencing_inv_AbortWrite : forall s p w,
  IInv s -> FencingInv (abort_write s p w).
Proof using.
  intros s p w H; apply (fencing_frame s); auto.
  - intros q v; cbn; rewrite upd_p_writes_in.
    intros [[-> Hin] | [_ Hin]]; left; [apply in_remove_iff in Hin; apply Hin | exact Hin].
  - apply H.
Qed.

Lemma fencing_inv_LoseAnswer : forall s c p,
  IInv s -> FencingInv (lose_answer s c p).
Proof using.
  intros s c p H; apply fencing_set_local_cp; [left; reflexivity | apply H].
Qed.

Lemma fencing_inv_Recover : forall s c p,
  IInv s -> FencingInv (recover s c p).
Proof using.
  intros s c p H; apply fencing_set_local_cp; [left; reflexivity | apply H].
Qed.

Lemma fencing_inv_Commit : forall s c p,
  IInv s -> FencingInv (commit s c p).
Proof using.
  intros s c p H; apply fencing_set_local_cp; [left; reflexivity | apply H].
Qed.

Lemma fencing_inv_CommitRejected : forall s c p,
  IInv s -> FencingInv (commit_rejected s c p).
Proof using.
  intros s c p H; apply fencing_set_local_cp; [right; reflexivity | apply H].
Qed.

Lemma fencing_inv_CommitBroker : forall s c p,
  IInv s -> FencingInv (commit_broker s c p).
Proof using. intros s c p H; apply H. Qed.

Lemma fencing_inv_PublishDeadLetter : forall s p,
  IInv s -> FencingInv (publish_dead_letter s p).
Proof using. intros s p H; apply H. Qed.

Lemma fencing_inv_init : FencingInv init.
Proof using.
  intros p; unfold EpochIssuedOK, Held; cbn.
  split; [auto | split; [auto | split; [intros w [] | congruence]]].
Qed.

(** Wrap-up: one obligation per constructor of [step]. *)
Lemma fencing_inv_step : forall s s',
  IInv s -> step s s' -> FencingInv s'.
Proof using.
  intros s s' H Hstep; destruct Hstep.
  - apply fencing_inv_Produce; assumption.
  - apply fencing_inv_Rebalance; assumption.
  - apply fencing_inv_Crash; assumption.
  - apply fencing_inv_Restart; assumption.
  - apply fencing_inv_Assign; assumption.
  - apply fencing_inv_Revoke; assumption.
  - apply fencing_inv_Fetch; assumption.
  - apply fencing_inv_Begin; assumption.
  - apply fencing_inv_Succeed; assumption.
  - apply fencing_inv_Fail; assumption.
  - apply fencing_inv_Retry; assumption.
  - apply fencing_inv_DeadLetter; assumption.
  - apply fencing_inv_WriteLedger; assumption.
  - apply fencing_inv_ApplyWrite; assumption.
  - apply fencing_inv_AbortWrite; assumption.
  - apply fencing_inv_LoseAnswer; assumption.
  - apply fencing_inv_Recover; assumption.
  - apply fencing_inv_Commit; assumption.
  - apply fencing_inv_CommitRejected; assumption.
  - apply fencing_inv_CommitBroker; assumption.
  - apply fencing_inv_PublishDeadLetter; assumption.
Qed.

End FencingProof.
