(** * AliveHolderInv: nothing is held by a dead consumer. *)

From DCSM Require Import State Step.

Section AliveHolderInterface.
Context {params : Params}.

Definition AliveHolderInv (s : State) : Prop :=
  forall c p, alive s c = false -> ~ Held s c p.

End AliveHolderInterface.
