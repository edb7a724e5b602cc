(** * Assumption check, run by proofs/Makefile (not part of the library).

    Each main theorem must be closed under the global context: it rests on
    nothing but Coq's logic -- not even functional extensionality -- and on
    no unfinished proof.
    proofs/check-assumptions.sh fails the build unless every
    "Print Assumptions" below reports so. *)

From DCSM Require Import Safety IInvProof Atomic Mutant.

Print Assumptions no_duplicate_inv.
Print Assumptions no_gap_inv.
Print Assumptions offset_order_inv.
Print Assumptions fencing_inv.
Print Assumptions typeok_inv.
Print Assumptions iinv_reachable.
Print Assumptions write_and_answer_is_split.
Print Assumptions iinv_reachable_fused.
Print Assumptions no_fencing_mutant_violates_NoDuplicateInv.
Print Assumptions no_commit_check_mutant_violates_NoDuplicateInv.
Print Assumptions unknown_resends_mutant_violates_NoDuplicateInv.
Print Assumptions next_with_dcsm.
