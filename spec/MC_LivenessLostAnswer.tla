------------------------- MODULE MC_LivenessLostAnswer -------------------------
(* Liveness of DCSM with the split ledger write; see MC_LivenessLostAnswer.cfg. *)
EXTENDS MC_Liveness
=============================================================================
