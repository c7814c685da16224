package sm

import (
	"testing"

	dbsm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/wire"
)

func psubCmd(t *testing.T, op uint8, name string, aux any) Command {
	t.Helper()
	c := Command{Op: op, Stream: name}
	if aux != nil {
		b, err := EncodeAux(aux)
		if err != nil {
			t.Fatal(err)
		}
		c.Aux = b
	}
	return c
}

func psubDef(name, start string) PSub {
	return PSub{Name: name, StartKind: start, MaxInFlight: 10, AckTimeoutMs: 1000, MaxRetries: 2, Strategy: wire.StrategyRoundRobin}
}

func getPSub(t *testing.T, s *StateMachine, name string) (*PSub, error) {
	t.Helper()
	v, err := s.Lookup(PSubGet{Name: name})
	if err != nil {
		return nil, err
	}
	return v.(*PSub), nil
}

// The replicated rules of persistent subscriptions: create is idempotent
// for the same definition, start "end" is resolved in the apply, progress
// only moves forward and never applies to another generation, parks are
// counted once, delete removes everything.
func TestPSubApply(t *testing.T) {
	s, _ := open(t, t.TempDir())
	defer s.Close()
	idx := uint64(0)
	apply := func(cmds ...Command) []Result {
		t.Helper()
		idx++
		es, err := s.Update([]dbsm.Entry{entry(t, idx, int64(idx*100), cmds...)})
		if err != nil {
			t.Fatal(err)
		}
		return results(t, es[0])
	}
	apply(appendCmd("order-1", ExpectAny, 0, 5), appendCmd("invoice-1", ExpectAny, 0, 3))

	rs := apply(
		psubCmd(t, OpPSubCreate, "a", &PSubCreate{Def: psubDef("a", StartAtEnd), MaxSubs: 2}),
		psubCmd(t, OpPSubCreate, "a", &PSubCreate{Def: psubDef("a", StartAtEnd), MaxSubs: 2}),
		psubCmd(t, OpPSubCreate, "a", &PSubCreate{Def: psubDef("a", StartAtStart), MaxSubs: 2}),
		psubCmd(t, OpPSubCreate, "b", &PSubCreate{Def: psubDef("b", StartAtStart), MaxSubs: 2}),
		psubCmd(t, OpPSubCreate, "c", &PSubCreate{Def: psubDef("c", StartAtStart), MaxSubs: 2}),
	)
	if rs[2].Code != int(codes.SubscriptionAlreadyExists) || rs[3].Code != 0 || rs[4].Code != int(codes.SubscriptionLimitReached) {
		t.Fatalf("creates: %+v", rs)
	}
	if r0, r1 := as[PSubCreateResult](t, rs[0]), as[PSubCreateResult](t, rs[1]); r0.StartPosition != 8 || r0.Duplicate || r0.Created != 200 ||
		!r1.Duplicate || r1.StartPosition != 8 || r1.Created != 200 {
		t.Fatalf("creates: %+v, %+v", r0, r1)
	}
	a, err := getPSub(t, s, "a")
	if err != nil || a.Checkpoint != 8 || a.High != 8 || a.StartPosition != 8 || a.Gen != 1 {
		t.Fatalf("a = %+v, %v", a, err)
	}
	b, _ := getPSub(t, s, "b")

	// Progress: parks counted once, checkpoint and high only forward.
	rs = apply(
		psubCmd(t, OpPSubProgress, "b", &PSubProgress{Name: "b", Gen: b.Gen, Checkpoint: 4, High: 6,
			Park: []PSubParkCmd{{Position: 1, Reason: wire.ParkedByNack, DeliveryCount: 1}, {Position: 2, Reason: wire.ParkedByMaxRetries, DeliveryCount: 3}}}),
		psubCmd(t, OpPSubProgress, "b", &PSubProgress{Name: "b", Gen: b.Gen, Checkpoint: 3, High: 5,
			Park: []PSubParkCmd{{Position: 2, Reason: wire.ParkedByMaxRetries, DeliveryCount: 4}}, Unpark: []uint64{1, 7}}),
		psubCmd(t, OpPSubProgress, "b", &PSubProgress{Name: "b", Gen: b.Gen + 1, Checkpoint: 8}),
	)
	if rs[2].Code != int(codes.SubscriptionNotFound) {
		t.Fatalf("progress: %+v", rs)
	}
	if r0, r1 := as[PSubProgressResult](t, rs[0]), as[PSubProgressResult](t, rs[1]); r0.Checkpoint != 4 || r1.Checkpoint != 4 {
		t.Fatalf("progress: %+v, %+v", r0, r1)
	}
	b, _ = getPSub(t, s, "b")
	if b.Checkpoint != 4 || b.High != 6 || b.Parked != 1 {
		t.Fatalf("b after progress: %+v", b)
	}
	v, err := s.Lookup(PSubParked{Name: "b", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	pk := v.(*PSubParkedResult)
	if len(pk.Entries) != 1 || pk.Entries[0].Event.Position != 2 || pk.Entries[0].Park.DeliveryCount != 4 || pk.Entries[0].Event.Stream != "order-1" {
		t.Fatalf("parked: %+v", pk)
	}

	// Update: only the given settings.
	rs = apply(psubCmd(t, OpPSubUpdate, "b", &PSubUpdate{Name: "b", MaxInFlight: -1, AckTimeoutMs: 50, MaxRetries: -1, Strategy: wire.StrategyPinned}),
		psubCmd(t, OpPSubUpdate, "zz", &PSubUpdate{Name: "zz", MaxInFlight: -1, AckTimeoutMs: -1, MaxRetries: -1}))
	b, _ = getPSub(t, s, "b")
	if rs[1].Code != int(codes.SubscriptionNotFound) || b.AckTimeoutMs != 50 || b.MaxInFlight != 10 || b.Strategy != wire.StrategyPinned {
		t.Fatalf("update: %+v, %+v", rs, b)
	}
	if r := as[PSubUpdateResult](t, rs[0]); r.Updated != b.Updated || b.Updated == b.Created {
		t.Fatalf("update: %+v, %+v", r, b)
	}

	// Delete removes the definition and the park; a new "b" is a new generation.
	rs = apply(psubCmd(t, OpPSubDelete, "b", nil), psubCmd(t, OpPSubDelete, "b", nil),
		psubCmd(t, OpPSubCreate, "b", &PSubCreate{Def: psubDef("b", StartAtStart), MaxSubs: 2}))
	if rs[0].Code != 0 || rs[1].Code != int(codes.SubscriptionNotFound) || rs[2].Code != 0 {
		t.Fatalf("delete: %+v", rs)
	}
	as[PSubDeleteResult](t, rs[0])
	nb, _ := getPSub(t, s, "b")
	if nb.Gen == b.Gen || nb.Parked != 0 || nb.Checkpoint != 0 {
		t.Fatalf("new b: %+v", nb)
	}
	if v, err := s.Lookup(PSubParked{Name: "b", Limit: 10}); err != nil || len(v.(*PSubParkedResult).Entries) != 0 {
		t.Fatalf("park after delete: %v, %v", v, err)
	}
	if _, err := s.Lookup(PSubParked{Name: "nope", Limit: 10}); codes.As(err).Code != codes.SubscriptionNotFound {
		t.Fatalf("parked of unknown: %v", err)
	}

	// Scan applies the filter and reports where to continue.
	cat := PSub{Category: "order"}
	v, err = s.Lookup(PSubScan{Sub: &cat, From: 2, Max: 2, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sc := v.(*PSubScanResult)
	if len(sc.Events) != 2 || sc.Events[0].Position != 2 || sc.Next != 4 || sc.Head != 8 {
		t.Fatalf("scan: %+v", sc)
	}
	inv := PSub{Stream: "invoice-1", EventTypes: []string{"T"}}
	v, _ = s.Lookup(PSubScan{Sub: &inv, From: 0, Max: 100, MaxBytes: 1 << 20})
	if sc := v.(*PSubScanResult); len(sc.Events) != 3 || sc.Events[0].Position != 5 || sc.Next != 8 {
		t.Fatalf("scan of one stream: %+v", sc)
	}
	v, _ = s.Lookup(PSubList{})
	if l := v.([]*PSub); len(l) != 2 || l[0].Name != "a" || l[1].Name != "b" {
		t.Fatalf("list: %+v", l)
	}
}
