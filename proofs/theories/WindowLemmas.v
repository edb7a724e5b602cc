(** * Lemmas about windows: finished prefix, head slot, OffsetsIn. *)

From Coq Require Import List Arith Lia.
Import ListNotations.
From DCSM Require Import State Step Util.

(** ** Finished prefix and head *)

Lemma fpl_le_length : forall w, FinishedPrefixLen w <= length w.
Proof using.
  induction w as [| sl w IH]; cbn; [lia |].
  destruct (finished sl); lia.
Qed.

(** [head_slot] is [w[HeadIndex(w)]] when [HasHead(w)], as in the spec. *)
Lemma head_slot_nth : forall w, head_slot w = nth_error w (FinishedPrefixLen w).
Proof using.
  induction w as [| sl w IH]; cbn; [reflexivity |].
  destruct (finished sl); cbn; auto.
Qed.

(** [map_head f w] is [[w EXCEPT ![HeadIndex(w)] = f(@)]]: the slot at
    0-based index [FinishedPrefixLen w] is replaced, the others are kept. *)
Lemma map_head_spec : forall f w,
  map_head f w =
  firstn (FinishedPrefixLen w) w ++
  match head_slot w with Some h => [f h] | None => [] end ++
  skipn (S (FinishedPrefixLen w)) w.
Proof using.
  induction w as [| sl w IH]; cbn; [reflexivity |].
  destruct (finished sl); cbn; [rewrite IH; reflexivity | reflexivity].
Qed.

Lemma head_slot_In : forall w sl, head_slot w = Some sl -> In sl w.
Proof using.
  induction w as [| x w IH]; cbn; intros sl H; [discriminate |].
  destruct (finished x); [right; auto | left; congruence].
Qed.

Lemma length_map_head : forall f w, length (map_head f w) = length w.
Proof using.
  induction w as [| sl w IH]; cbn; [reflexivity |].
  destruct (finished sl); cbn; auto.
Qed.

(** Updating the head never shortens the finished prefix. *)
Lemma fpl_map_head_ge : forall f w,
  FinishedPrefixLen w <= FinishedPrefixLen (map_head f w).
Proof using.
  induction w as [| sl w IH]; cbn; [lia |].
  destruct (finished sl) eqn:E; cbn; [rewrite E; lia | lia].
Qed.

(** Slots after the head are left alone by [map_head]. *)
Lemma skipn_map_head : forall f w m,
  FinishedPrefixLen w < m -> skipn m (map_head f w) = skipn m w.
Proof using.
  induction w as [| sl w IH]; intros m Hm; cbn; [reflexivity |].
  destruct m as [| m]; [lia |].
  cbn in Hm; destruct (finished sl); cbn.
  - apply IH; lia.
  - reflexivity.
Qed.

Lemma Forall_map_head : forall (P : Slot -> Prop) f w,
  Forall P w -> (forall h, head_slot w = Some h -> P (f h)) -> Forall P (map_head f w).
Proof using.
  intros P f w H; induction H as [| sl w Hsl H IH]; intros Hf; cbn; [constructor |].
  cbn in Hf; destruct (finished sl); constructor; auto.
Qed.

(** Fetch appends an unfinished slot: the finished prefix is unchanged. *)
Lemma fpl_app_unfinished : forall w x,
  finished x = false -> FinishedPrefixLen (w ++ [x]) = FinishedPrefixLen w.
Proof using.
  induction w as [| sl w IH]; intros x Hx; cbn; [rewrite Hx; reflexivity |].
  destruct (finished sl); auto.
Qed.

(** Commit drops [k] finished slots. *)
Lemma fpl_skipn : forall k w,
  k <= FinishedPrefixLen w -> FinishedPrefixLen (skipn k w) = FinishedPrefixLen w - k.
Proof using.
  induction k as [| k IH]; intros w Hk; cbn; [lia |].
  destruct w as [| sl w]; cbn in *; [lia |].
  destruct (finished sl); [apply IH; lia | lia].
Qed.

(** The first [FinishedPrefixLen w] slots are finished. *)
Lemma fpl_nth_finished : forall w i sl,
  i < FinishedPrefixLen w -> nth_error w i = Some sl -> finished sl = true.
Proof using.
  induction w as [| x w IH]; intros i sl Hi Hnth; cbn in *; [lia |].
  destruct (finished x) eqn:E; [| lia].
  destruct i as [| i]; cbn in Hnth; [congruence |].
  apply (IH i); [lia | exact Hnth].
Qed.

(** ** OffsetsIn *)

Lemma offsets_in_bounds : forall k w b x o,
  In o (OffsetsIn b w k x) -> b <= o < b + k.
Proof using.
  induction k as [| k IH]; intros w b x o Hin; cbn in Hin; [destruct Hin |].
  destruct w as [| sl w]; [destruct Hin |].
  apply in_app_iff in Hin as [Hin | Hin].
  - destruct (offset_state_eq_dec (st sl) x); cbn in Hin; [| destruct Hin].
    destruct Hin as [<- | []]; lia.
  - apply IH in Hin; lia.
Qed.

Lemma offsets_in_nodup : forall k w b x, NoDup (OffsetsIn b w k x).
Proof using.
  induction k as [| k IH]; intros w b x; cbn; [constructor |].
  destruct w as [| sl w]; [constructor |].
  destruct (offset_state_eq_dec (st sl) x); cbn; [| apply IH].
  constructor; [| apply IH].
  intros Hin; apply offsets_in_bounds in Hin; lia.
Qed.

(** An offset is listed for at most one state: its slot's. *)
Lemma offsets_in_state_unique : forall k w b x y o,
  In o (OffsetsIn b w k x) -> In o (OffsetsIn b w k y) -> x = y.
Proof using.
  induction k as [| k IH]; intros w b x y o Hx Hy; cbn in *; [destruct Hx |].
  destruct w as [| sl w]; [destruct Hx |].
  apply in_app_iff in Hx, Hy.
  destruct Hx as [Hx | Hx], Hy as [Hy | Hy].
  - destruct (offset_state_eq_dec (st sl) x), (offset_state_eq_dec (st sl) y);
      cbn in *; try contradiction; congruence.
  - destruct (offset_state_eq_dec (st sl) x); cbn in Hx; [| destruct Hx].
    destruct Hx as [<- | []]; apply offsets_in_bounds in Hy; lia.
  - destruct (offset_state_eq_dec (st sl) y); cbn in Hy; [| destruct Hy].
    destruct Hy as [<- | []]; apply offsets_in_bounds in Hx; lia.
  - eauto.
Qed.

(** Over a finished prefix every offset is listed as Done or DeadLettered. *)
Lemma offsets_in_cover : forall k w b o,
  k <= FinishedPrefixLen w -> b <= o < b + k ->
  In o (OffsetsIn b w k Done) \/ In o (OffsetsIn b w k DeadLettered).
Proof using.
  induction k as [| k IH]; intros w b o Hk Ho; [lia |].
  destruct w as [| sl w]; cbn in Hk; [lia |].
  unfold finished in Hk; cbn; rewrite !in_app_iff.
  destruct (Nat.eq_dec o b) as [-> | Hne].
  - destruct (st sl); cbn; try lia; auto.
  - destruct (st sl); try lia;
      (destruct (IH w (S b) o) as [H | H]; [lia | lia | auto | auto]).
Qed.
