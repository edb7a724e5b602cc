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

\* With the write as one step (SplitWrite = FALSE) no write is ever in
\* flight: the candidates are the states of that model, no more.
WriteUpTos     == IF SplitWrite THEN Offsets ELSE {0}
AnswersInRange == IF SplitWrite THEN Answers ELSE {NoAnswer}

\* Window shape does not depend on the rest of the state: filter it once.
ShapedLocals ==
    {l \in [epoch : 0..EpochRange, gen : 0..GenRange, base : Offsets,
            win : SeqsUpTo(SlotRecs, Window), writeUpTo : WriteUpTos,
            answer : AnswersInRange] : WindowShapeOK(l)}

\* The outcomes a write of lo..hi-1 can carry: each offset once, in effects
\* or in dlq, in any order (WriteRangeOK's content part).  Tables of
\* constants, so that TLC computes them once.
ContentsOf ==
    [r \in Offsets \X Offsets |->
        {x \in SeqsUpTo(0..(MaxOffset - 1), MaxOffset) \X SeqsUpTo(0..(MaxOffset - 1), MaxOffset) :
            /\ r[1] < r[2]
            /\ Range(x[1]) \cup Range(x[2]) = r[1]..(r[2] - 1)
            /\ NoRepeats(x[1] \o x[2])}]

\* Every write of epoch e, by anyone, of any range.
FreeWrites ==
    [e \in 1..EpochRange |->
        UNION {{WriteRec(c, e, lo, hi, x[1], x[2]) : x \in ContentsOf[<<lo, hi>>]} :
                  c \in Consumers, lo \in Offsets, hi \in Offsets}]

\* The writes of epoch e that IInv allows beside local, ledger and log
\* (WriteInFlightInv, WriteRangeOK): a held epoch's write is its holder's,
\* for the holder's base and writeUpTo; one of the current epoch expects the
\* ledger's next; none is past the log or of an epoch not issued.  Built
\* from the state rather than filtered from every write, so that TLC does
\* not enumerate the product first.
CandidatesOfEpoch(p, e) ==
    IF e > ledger[p].epoch THEN {}
    ELSE IF \E c \in Consumers : local[c][p].epoch = e
    THEN LET c == CHOOSE d \in Consumers : local[d][p].epoch = e
             l == local[c][p]
         IN {WriteRec(c, e, l.base, l.writeUpTo, x[1], x[2]) : x \in ContentsOf[<<l.base, l.writeUpTo>>]}
    ELSE {w \in FreeWrites[e] : w.upTo <= log[p] /\ (e = ledger[p].epoch => w.expectedNext = ledger[p].next)}

OptionOf(S) == {{}} \cup {{w} : w \in S}

\* At most one write per epoch (WriteInFlightInv), epochs 1..EpochRange.
ASSUME EpochRange = 2
WriteSetsOf(p) ==
    IF ~SplitWrite THEN {{}} ELSE
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
