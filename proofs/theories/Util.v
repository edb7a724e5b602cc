(** * Generic list lemmas used by the invariant proofs. *)

From Coq Require Import List Arith Lia Permutation.
Import ListNotations.

Section Util.
Variable A : Type.

(** Appending two duplicate-free, disjoint lists. *)
Lemma nodup_app_intro : forall a b : list A,
  NoDup a -> NoDup b -> (forall x, In x a -> In x b -> False) -> NoDup (a ++ b).
Proof using.
  induction a as [| y a IH]; intros b Ha Hb Hdis; [exact Hb |].
  inversion Ha as [| ? ? Hy Ha']; subst; cbn; constructor.
  - rewrite in_app_iff; intros [Hin | Hin]; [exact (Hy Hin) |].
    exact (Hdis y (or_introl eq_refl) Hin).
  - apply IH; [exact Ha' | exact Hb |].
    intros x Hxa Hxb; exact (Hdis x (or_intror Hxa) Hxb).
Qed.

Lemma nodup_app_r : forall a b : list A, NoDup (a ++ b) -> NoDup b.
Proof using.
  induction a as [| y a IH]; intros b H; [exact H |].
  inversion H; subst; auto.
Qed.

Lemma nodup_app_l : forall a b : list A, NoDup (a ++ b) -> NoDup a.
Proof using.
  induction a as [| y a IH]; intros b H; [constructor |].
  inversion H as [| ? ? Hy H']; subst; constructor; [| eauto].
  intro Hin; apply Hy, in_app_iff; auto.
Qed.

Lemma nodup_app_disjoint : forall (a b : list A) x,
  NoDup (a ++ b) -> In x a -> In x b -> False.
Proof using.
  induction a as [| y a IH]; intros b x H Ha Hb; [destruct Ha |].
  inversion H as [| ? ? Hy H']; subst.
  destruct Ha as [-> | Ha]; [apply Hy, in_app_iff; auto | eauto].
Qed.

(** Committing new outcomes [c] and [d] to two ledgers columns [a] and [b]:
    [(a ++ c) ++ (b ++ d)] is a permutation of [(a ++ b) ++ (c ++ d)]. *)
Lemma nodup_app_interleave : forall a b c d : list A,
  NoDup (a ++ b) -> NoDup (c ++ d) ->
  (forall x, In x (a ++ b) -> In x (c ++ d) -> False) ->
  NoDup ((a ++ c) ++ (b ++ d)).
Proof using.
  intros a b c d Hab Hcd Hdis.
  apply Permutation_NoDup with ((a ++ b) ++ (c ++ d)).
  - rewrite <- !app_assoc; apply Permutation_app_head.
    rewrite !app_assoc; apply Permutation_app_tail, Permutation_app_comm.
  - apply nodup_app_intro; assumption.
Qed.

Lemma Forall_skipn : forall (P : A -> Prop) n (l : list A),
  Forall P l -> Forall P (skipn n l).
Proof using.
  intros P n l H; revert n; induction H as [| x l Hx H IH]; intros [| n]; cbn; auto.
Qed.

Lemma skipn_skipn' : forall n m (l : list A),
  skipn n (skipn m l) = skipn (n + m) l.
Proof using.
  intros n m; induction m as [| m IH]; intros l.
  - rewrite Nat.add_0_r; reflexivity.
  - destruct l as [| x l]; [destruct n; reflexivity |].
    rewrite Nat.add_succ_r; cbn; apply IH.
Qed.

(** ** Prefixes, stated as in OutboxPrefixInv: no longer, and equal at every
    index of the shorter list. *)
Definition Prefix (t d : list A) : Prop :=
  length t <= length d /\ forall i, i < length t -> nth_error t i = nth_error d i.

Lemma prefix_nil : forall d : list A, Prefix [] d.
Proof using.
  intros d; split; cbn; [lia | intros i Hi; lia].
Qed.

Lemma prefix_app_r : forall t d e : list A, Prefix t d -> Prefix t (d ++ e).
Proof using.
  intros t d e [Hlen Hnth]; split.
  - rewrite app_length; lia.
  - intros i Hi; rewrite nth_error_app1 by lia; auto.
Qed.

(** The relay's step: append the next element of [d]. *)
Lemma prefix_snoc : forall (t d : list A) x0,
  Prefix t d -> length t < length d -> Prefix (t ++ [nth (length t) d x0]) d.
Proof using.
  intros t d x0 [Hlen Hnth] Hlt; split.
  - rewrite app_length; cbn; lia.
  - intros i Hi; rewrite app_length in Hi; cbn in Hi.
    destruct (Nat.lt_ge_cases i (length t)) as [Hit | Hit].
    + rewrite nth_error_app1 by exact Hit; auto.
    + assert (i = length t) as -> by lia.
      rewrite nth_error_app2, Nat.sub_diag by lia; cbn.
      symmetry; apply nth_error_nth'; exact Hlt.
Qed.

Lemma prefix_in : forall (t d : list A) x, Prefix t d -> In x t -> In x d.
Proof using.
  intros t d x [_ Hnth] Hin.
  destruct (In_nth_error t x Hin) as [i Hi].
  assert (i < length t) by (apply nth_error_Some; congruence).
  rewrite Hnth in Hi by assumption; eapply nth_error_In; eauto.
Qed.

Lemma prefix_nodup : forall t d : list A, Prefix t d -> NoDup d -> NoDup t.
Proof using.
  intros t d [_ Hnth] Hd.
  apply NoDup_nth_error; intros i j Hi Hij.
  assert (j < length t).
  { apply nth_error_Some; rewrite <- Hij; apply nth_error_Some; exact Hi. }
  rewrite !Hnth in Hij by assumption.
  apply (proj1 (NoDup_nth_error d) Hd); [| exact Hij].
  apply nth_error_Some; rewrite <- Hnth by assumption; apply nth_error_Some; exact Hi.
Qed.

End Util.

Arguments nodup_app_intro {A}.
Arguments nodup_app_r {A}.
Arguments nodup_app_l {A}.
Arguments nodup_app_disjoint {A}.
Arguments nodup_app_interleave {A}.
Arguments Forall_skipn {A}.
Arguments skipn_skipn' {A}.
Arguments Prefix {A}.
Arguments prefix_nil {A}.
Arguments prefix_app_r {A}.
Arguments prefix_snoc {A}.
Arguments prefix_in {A}.
Arguments prefix_nodup {A}.
