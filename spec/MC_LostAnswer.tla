----------------------------- MODULE MC_LostAnswer -----------------------------
(* Safety of DCSM with lost answers and aborted writes; see MC_LostAnswer.cfg. *)
EXTENDS MCCommon
=============================================================================
