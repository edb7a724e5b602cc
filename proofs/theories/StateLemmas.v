(** * Reading a variable after an update.

    Each lemma splits on whether the read hits the updated point; the
    invariant proofs then use the pre-state's invariant at the other points. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section StateLemmas.
Context {params : Params}.

Lemma upd_p_cases : forall {A} (f : Partition -> A) p v q,
  (q = p /\ upd_p f p v q = v) \/ (q <> p /\ upd_p f p v q = f q).
Proof using.
  intros A f p v q; unfold upd_p.
  destruct (partition_eq_dec q p); [left | right]; auto.
Qed.

Lemma upd_c_cases : forall {A} (f : Consumer -> A) c v d,
  (d = c /\ upd_c f c v d = v) \/ (d <> c /\ upd_c f c v d = f d).
Proof using.
  intros A f c v d; unfold upd_c.
  destruct (consumer_eq_dec d c); [left | right]; auto.
Qed.

Lemma upd_p_same : forall {A} (f : Partition -> A) p v, upd_p f p v p = v.
Proof using.
  intros A f p v; unfold upd_p; destruct (partition_eq_dec p p); congruence.
Qed.

Lemma upd_c_same : forall {A} (f : Consumer -> A) c v, upd_c f c v c = v.
Proof using.
  intros A f c v; unfold upd_c; destruct (consumer_eq_dec c c); congruence.
Qed.

(** [local[d][q]] after [local' = [local EXCEPT ![c][p] = l]]. *)
Lemma set_local_cp_cases : forall s c p l d q,
  (d = c /\ q = p /\ local (set_local_cp s c p l) d q = l) \/
  ((d <> c \/ q <> p) /\ local (set_local_cp s c p l) d q = local s d q).
Proof using.
  intros s c p l d q; unfold set_local_cp; cbn.
  destruct (upd_c_cases (local s) c (upd_p (local s c) p l) d) as [[-> ->] | [Hd ->]].
  - destruct (upd_p_cases (local s c) p l q) as [[-> ->] | [Hq ->]]; auto.
  - right; auto.
Qed.

Lemma set_local_cp_same : forall s c p l, local (set_local_cp s c p l) c p = l.
Proof using.
  intros s c p l; unfold set_local_cp; cbn; rewrite upd_c_same, upd_p_same; reflexivity.
Qed.

(** A window update keeps every epoch, generation, base, write in flight
    and answer. *)
Lemma set_win_cases' : forall s c p w d q,
  (d = c /\ q = p /\ local (set_win s c p w) d q =
     mkLocal (loc_epoch (local s d q)) (loc_gen (local s d q)) (base (local s d q)) w
       (writeUpTo (local s d q)) (answer (local s d q))) \/
  ((d <> c \/ q <> p) /\ local (set_win s c p w) d q = local s d q).
Proof using.
  intros s c p w d q; unfold set_win.
  destruct (set_local_cp_cases s c p (mkLocal (loc_epoch (local s c p))
    (loc_gen (local s c p)) (base (local s c p)) w (writeUpTo (local s c p))
    (answer (local s c p))) d q) as [(-> & -> & ->) | (? & ->)]; auto.
Qed.

Lemma set_win_epoch : forall s c p w d q,
  loc_epoch (local (set_win s c p w) d q) = loc_epoch (local s d q).
Proof using.
  intros s c p w d q; destruct (set_win_cases' s c p w d q) as [(_ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.

Lemma set_win_base : forall s c p w d q,
  base (local (set_win s c p w) d q) = base (local s d q).
Proof using.
  intros s c p w d q; destruct (set_win_cases' s c p w d q) as [(_ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.

Lemma set_win_writeUpTo : forall s c p w d q,
  writeUpTo (local (set_win s c p w) d q) = writeUpTo (local s d q).
Proof using.
  intros s c p w d q; destruct (set_win_cases' s c p w d q) as [(_ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.

Lemma set_win_answer : forall s c p w d q,
  answer (local (set_win s c p w) d q) = answer (local s d q).
Proof using.
  intros s c p w d q; destruct (set_win_cases' s c p w d q) as [(_ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.

Lemma set_win_held : forall s c p w d q, Held (set_win s c p w) d q <-> Held s d q.
Proof using.
  intros; unfold Held; rewrite set_win_epoch; reflexivity.
Qed.

Lemma set_win_cases : forall s c p w d q,
  (d = c /\ q = p /\ win (local (set_win s c p w) d q) = w) \/
  ((d <> c \/ q <> p) /\ local (set_win s c p w) d q = local s d q).
Proof using.
  intros s c p w d q; destruct (set_win_cases' s c p w d q) as [(? & ? & ->) | (? & ->)];
    auto.
Qed.

(** [local[d][q]] after Crash(c). *)
Lemma crash_local_cases : forall s c d q,
  (d = c /\ local (crash s c) d q = NotHeld) \/
  (d <> c /\ local (crash s c) d q = local s d q).
Proof using.
  intros s c d q; unfold crash; cbn.
  destruct (upd_c_cases (local s) c (fun _ => NotHeld) d) as [[-> ->] | [? ->]]; auto.
Qed.

(** [writes[p] \ {w}] and [writes[p] \cup {w}], read through [In]. *)
Lemma in_remove_iff : forall v w l,
  In v (remove write_eq_dec w l) <-> In v l /\ v <> w.
Proof using.
  intros v w l; split; [apply in_remove | intros [Hin Hne]; apply in_in_remove; assumption].
Qed.

(** [writes[q]] after [writes' = [writes EXCEPT ![p] = ws]]. *)
Lemma upd_p_writes_in : forall (f : Partition -> list WriteRec) p ws q v,
  In v (upd_p f p ws q) <-> (q = p /\ In v ws) \/ (q <> p /\ In v (f q)).
Proof using.
  intros f p ws q v; destruct (upd_p_cases f p ws q) as [[-> ->] | [Hq ->]];
    split; intuition congruence.
Qed.

(** ** ApplyWrite, read variable by variable *)

Section ApplyWrite.
Variables (acc : State -> WriteRec -> Partition -> bool) (s : State) (p : Partition)
  (w : WriteRec).

Let s' := apply_write_with acc s p w.

Lemma apply_write_log : log s' = log s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_owner : owner s' = owner s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_gen : gen s' = gen s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_alive : alive s' = alive s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_brokerOffset : brokerOffset s' = brokerOffset s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_dlqTopic : dlqTopic s' = dlqTopic s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_ledger :
  ledger s' = if acc s w p then upd_p (ledger s) p (apply_ledger (ledger s p) w) else ledger s.
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.
Lemma apply_write_writes :
  writes s' = upd_p (writes s) p (remove write_eq_dec w (writes s p)).
Proof using. unfold s', apply_write_with; destruct (awaits_answer_b s w p); reflexivity. Qed.

(** Only the sender's answer changes, and only if it awaits one. *)
Lemma apply_write_local_cases : forall d q,
  (AwaitsAnswer s w p /\ d = wr_c w /\ q = p /\
   local s' d q = with_answer (local s d q) (if acc s w p then Committed else Rejected)) \/
  ((~ AwaitsAnswer s w p \/ d <> wr_c w \/ q <> p) /\ local s' d q = local s d q).
Proof using.
  intros d q; unfold s', apply_write_with.
  destruct (awaits_answer_b s w p) eqn:Ea.
  - apply awaits_answer_b_spec in Ea.
    destruct (set_local_cp_cases
      (mkState (log s) (owner s) (gen s) (alive s) (brokerOffset s)
         (if acc s w p then upd_p (ledger s) p (apply_ledger (ledger s p) w) else ledger s)
         (dlqTopic s) (upd_p (writes s) p (remove write_eq_dec w (writes s p))) (local s))
      (wr_c w) p (with_answer (local s (wr_c w) p) (if acc s w p then Committed else Rejected))
      d q) as [(-> & -> & ->) | (Hne & ->)]; [left | right]; auto.
  - right; split; [left | reflexivity].
    intros Ha; apply awaits_answer_b_spec in Ha; congruence.
Qed.

Lemma apply_write_local_epoch : forall d q,
  loc_epoch (local s' d q) = loc_epoch (local s d q).
Proof using.
  intros d q; destruct (apply_write_local_cases d q) as [(_ & _ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.
Lemma apply_write_local_gen : forall d q, loc_gen (local s' d q) = loc_gen (local s d q).
Proof using.
  intros d q; destruct (apply_write_local_cases d q) as [(_ & _ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.
Lemma apply_write_local_base : forall d q, base (local s' d q) = base (local s d q).
Proof using.
  intros d q; destruct (apply_write_local_cases d q) as [(_ & _ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.
Lemma apply_write_local_win : forall d q, win (local s' d q) = win (local s d q).
Proof using.
  intros d q; destruct (apply_write_local_cases d q) as [(_ & _ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.
Lemma apply_write_local_writeUpTo : forall d q,
  writeUpTo (local s' d q) = writeUpTo (local s d q).
Proof using.
  intros d q; destruct (apply_write_local_cases d q) as [(_ & _ & _ & ->) | (_ & ->)];
    reflexivity.
Qed.

End ApplyWrite.

End StateLemmas.
