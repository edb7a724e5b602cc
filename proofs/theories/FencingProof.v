(** * FencingInv is preserved by every action. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step StateLemmas IInv.

Section FencingProof.
Context {params : Params}.

(** FencingInv reads only the ledger's epochs and writers and the consumers'
    epochs.  An action that keeps the ledger's epochs, sets writers to the
    current epoch at most, and either keeps a consumer's epoch or drops it to
    0 (not held) preserves it.  Every action but Assign is of this kind. *)
Lemma fencing_frame : forall s s',
  (forall q, epoch (ledger s' q) = epoch (ledger s q)) ->
  (forall q, writer (ledger s' q) = writer (ledger s q) \/
             writer (ledger s' q) = epoch (ledger s q)) ->
  (forall d q, loc_epoch (local s' d q) = loc_epoch (local s d q) \/
               loc_epoch (local s' d q) = 0) ->
  FencingInv s -> FencingInv s'.
Proof using.
  intros s s' Hep Hwr Hloc H p; unfold Held, EpochIssuedOK.
  destruct (H p) as (Hw & Hle & Hdis); rewrite !Hep; split; [| split].
  - destruct (Hwr p) as [-> | ->]; auto.
  - intros c; destruct (Hloc c p) as [-> | ->]; [apply Hle | lia].
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
  set (l := mkLocal (S (epoch (ledger s p))) (gen s p) (next (ledger s p)) []).
  change (ledger (set_local_cp s1 c p l) q) with (upd_p (ledger s) p L q).
  destruct (iinv_fencing s H q) as (Hw & Hle & Hdis); unfold EpochIssuedOK in Hle.
  destruct (upd_p_cases (ledger s) p L q) as [[-> ->] | [Hq ->]].
  - (* the fenced partition: the holder's epoch is above all others *)
    unfold L; cbn [fence writer epoch]; split; [auto | split].
    + intros d; destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (_ & ->)];
        cbn; [lia | specialize (Hle d); lia].
    + intros d e Hde.
      destruct (set_local_cp_cases s1 c p l d p) as [(-> & _ & ->) | (Hd & ->)];
      destruct (set_local_cp_cases s1 c p l e p) as [(-> & _ & ->) | (He & ->)]; cbn.
      * contradiction.
      * specialize (Hle e); lia.
      * specialize (Hle d); lia.
      * apply Hdis; assumption.
  - (* another partition: nothing it reads changed *)
    split; [exact Hw | split].
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

(** The ledger only accepts the holder of its current epoch, so the writer it
    records is that epoch. *)
Lemma fencing_inv_Commit : forall s c p k,
  IInv s -> CommitAccepted s c p -> FencingInv (commit s c p k).
Proof using.
  intros s c p k H [Hep _]; unfold commit; cbv zeta.
  set (L := commit_ledger (ledger s p) (local s c p) k).
  set (s1 := set_ledger s (upd_p (ledger s) p L)).
  apply (fencing_frame s).
  - intros q; cbn; destruct (upd_p_cases (ledger s) p L q) as [[-> ->] | [_ ->]];
      reflexivity.
  - intros q; cbn; destruct (upd_p_cases (ledger s) p L q) as [[-> ->] | [_ ->]]; auto.
  - intros d q; destruct (set_local_cp_cases s1 c p (commit_local (local s c p) k) d q)
      as [(-> & -> & ->) | (_ & ->)]; auto.
  - apply H.
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
  intros p; unfold EpochIssuedOK, Held; cbn; split; [auto | split; [auto | congruence]].
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
  - apply fencing_inv_Commit; assumption.
  - apply fencing_inv_CommitRejected; assumption.
  - apply fencing_inv_CommitBroker; assumption.
  - apply fencing_inv_PublishDeadLetter; assumption.
Qed.

End FencingProof.
