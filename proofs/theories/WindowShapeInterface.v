(** * WindowShapeInv: finished slots, then at most one started slot (the
    head), then untouched Pending slots; retry counts within their bound; a
    write in flight covers a non-empty part of the finished prefix, and only
    a write in flight has an answer. *)

From Coq Require Import List.
From DCSM Require Import State Step.

Section WindowShapeInterface.
Context {params : Params}.

(** The facts about one slot [w[i]] (TLA+ [\A i \in 1..Len(w)] is [Forall]). *)
Definition SlotOK (sl : Slot) : Prop :=
  (st sl = Pending -> tries sl = 0) /\
  (st sl = Processing -> tries sl <= MaxRetries) /\
  (st sl = Failed \/ st sl = DeadLettered -> 1 <= tries sl) /\
  (st sl = DeadLettered -> MaxRetries < tries sl).

(** [\A i \in 1..Len(w) : i > HeadIndex(w) => w[i] = Slot(Pending, 0)]: with
    0-based indices, the slots from index [FinishedPrefixLen w + 1] on. *)
Definition AfterHeadPending (w : list Slot) : Prop :=
  Forall (fun sl => sl = pending0) (skipn (S (FinishedPrefixLen w)) w).

(** [WindowShapeOK(l)]. *)
Definition WindowShapeOK (l : LocalRec) : Prop :=
  Forall SlotOK (win l) /\
  AfterHeadPending (win l) /\
  (loc_epoch l = 0 -> l = NotHeld) /\
  (writeUpTo l = 0 -> answer l = NoAnswer) /\
  (writeUpTo l <> 0 ->
     base l < writeUpTo l /\ writeUpTo l <= base l + FinishedPrefixLen (win l)).

Definition WindowShapeInv (s : State) : Prop :=
  forall c p, WindowShapeOK (local s c p).

End WindowShapeInterface.
