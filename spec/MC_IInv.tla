------------------------------ MODULE MC_IInv ------------------------------
(***************************************************************************)
(* IInv is inductive (at small bounds): every state satisfying IInv --     *)
(* reachable or not -- has only successors that satisfy IInv.  This is the *)
(* check tlaplus/Examples' MCPaxos makes, and the obligation proofs/       *)
(* discharges for all bounds.                                              *)
(*                                                                         *)
(* The initial states are ALL states within the ranges below that satisfy  *)
(* IInv; the constraint stops exploration after one step, and TLC checks   *)
(* the invariants on every successor (it checks invariants before          *)
(* constraints), so this is exactly IInv /\ [Next]_vars => IInv'.          *)
(***************************************************************************)
EXTENDS MCCommon

CONSTANTS
    EpochRange,   \* epochs (ledger and held) range over 0..EpochRange
    GenRange      \* generations range over 0..GenRange

SeqsUpTo(S, n) == UNION {[1..k -> S] : k \in 0..n}

LedgerCandidates ==
    [next : Offsets, epoch : 0..EpochRange, writer : 0..EpochRange,
     effects : SeqsUpTo(0..(MaxOffset - 1), MaxOffset),
     dlq : SeqsUpTo(0..(MaxOffset - 1), MaxOffset)]

\* Window shape does not depend on the rest of the state: filter it once.
ShapedLocals ==
    {l \in [epoch : 0..EpochRange, gen : 0..GenRange, base : Offsets,
            win : SeqsUpTo(SlotRecs, Window), writeUpTo : Offsets,
            answer : Answers] : WindowShapeOK(l)}

\* The outcomes a write of lo..hi-1 can carry: each offset once, in effects
\* or in dlq, in any order (WriteRangeOK's content part).
Contents(lo, hi) ==
    {x \in SeqsUpTo(0..(MaxOffset - 1), MaxOffset) \X SeqsUpTo(0..(MaxOffset - 1), MaxOffset) :
        /\ lo < hi
        /\ Range(x[1]) \cup Range(x[2]) = lo..(hi - 1)
        /\ NoRepeats(x[1] \o x[2])}

\* The writes of epoch e that IInv allows beside local and ledger: a held
\* epoch's write is its holder's, for the holder's base and writeUpTo
\* (WriteInFlightInv); an epoch nobody holds may have any write.  Built from
\* local rather than filtered from every write, so that TLC does not
\* enumerate the product first.
CandidatesOfEpoch(p, e) ==
    IF \E c \in Consumers : local[c][p].epoch = e
    THEN LET c == CHOOSE d \in Consumers : local[d][p].epoch = e
             l == local[c][p]
         IN {WriteRec(c, e, l.base, l.writeUpTo, x[1], x[2]) : x \in Contents(l.base, l.writeUpTo)}
    ELSE UNION {{WriteRec(c, e, lo, hi, x[1], x[2]) : x \in Contents(lo, hi)} :
                   c \in Consumers, lo \in Offsets, hi \in Offsets}

OptionOf(S) == {{}} \cup {{w} : w \in S}

\* At most one write per epoch (WriteInFlightInv), epochs 1..EpochRange.
ASSUME EpochRange = 2
WriteSetsOf(p) ==
    {a \cup b : a \in OptionOf(CandidatesOfEpoch(p, 1)), b \in OptionOf(CandidatesOfEpoch(p, 2))}

\* One consumer's views of all partitions that agree with the ledger.
LocalViews ==
    {f \in [Partitions -> ShapedLocals] :
        \A p \in Partitions : HolderOrderOK(f[p], p) /\ EpochIssuedOK(f[p], p)}

\* Candidate values, then IInv itself.  The filters in between are implied
\* by IInv (OffsetOrderInv, LedgerExactInv, and LocalViews' per-consumer
\* parts); they only let TLC prune early instead of enumerating every
\* combination first, and the variables IInv constrains least come last.
InitSatisfying(Inv) ==
    /\ log \in [Partitions -> Offsets]
    /\ ledger \in [Partitions -> LedgerCandidates]
    /\ \A p \in Partitions : ledger[p].next <= log[p]
    /\ dlqTopic \in [Partitions -> SeqsUpTo(0..(MaxOffset - 1), MaxOffset)]
    /\ LedgerExactInv
    /\ local \in [Consumers -> LocalViews]
    /\ writes \in [Partitions -> UNION {WriteSetsOf(p) : p \in Partitions}]
    /\ \A p \in Partitions : writes[p] \in WriteSetsOf(p)
    /\ WriteInFlightInv
    /\ brokerOffset \in [Partitions -> Offsets]
    /\ owner \in [Partitions -> Consumers \cup {NoConsumer}]
    /\ gen \in [Partitions -> 0..GenRange]
    /\ alive \in [Consumers -> BOOLEAN]
    /\ lastAction = Label("Init", <<>>)
    /\ Inv

IInvInit == InitSatisfying(IInv)

\* One step from every IInv state, no further.
OneStep == TLCGet("level") < 2

IInvSpec == IInvInit /\ [][Next]_vars
=============================================================================
