package cookiesession

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

type withTime struct {
	At    time.Time
	Ptr   *typicalItem
	Any   any
	M     map[string][]int
	Arr   [2][]string
	F     float64
	inner int // unexported and plain: allowed
}

type selfMarshal struct{ X int }

func (s selfMarshal) MarshalJSON() ([]byte, error) { return json.Marshal(time.Now().UnixNano()) }

type cyclic struct {
	Next *cyclic
	N    int
}

func TestWalkableTypes(t *testing.T) {
	tests := []struct {
		v    any
		want bool
	}{
		{typical{}, true},
		{withTime{}, true},
		{map[string]any{}, true},
		{cyclic{}, true},
		{selfMarshal{}, false},
		{struct{ C chan int }{}, false},
		{struct{ p *int }{}, false}, // unexported reference: reflect cannot copy it
		{struct{ F func() }{}, false},
	}
	for _, tt := range tests {
		if got := planFor(reflect.TypeOf(tt.v)) != nil; got != tt.want {
			t.Errorf("planFor(%T) != nil = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// snapshotCase takes a snapshot of v, applies mutate, and compares what the
// walk says with what serialising says. The walk may say "changed" for
// equal serialisations (costing a marshal), never "unchanged" for
// different ones (which would lose a change).
func snapshotCase[T any](t *testing.T, name string, v T, mutate func(*T)) {
	t.Helper()
	var snap T
	sn := newSnapshotter[T]()
	if !sn.ok() || !sn.take(&snap, &v) {
		t.Fatalf("%s: snapshot failed", name)
	}
	before, _ := json.Marshal(&v)
	if !sn.same(&v, &snap) {
		t.Errorf("%s: a fresh snapshot differs from its source", name)
	}
	mutate(&v)
	after, _ := json.Marshal(&v)
	same := sn.same(&v, &snap)
	if same && string(before) != string(after) {
		t.Errorf("%s: the walk missed a change: %s -> %s", name, before, after)
	}
	if !same && string(before) == string(after) && name != "unexported field" {
		t.Errorf("%s: the walk saw a change JSON does not", name)
	}
	snapAfter, _ := json.Marshal(&snap)
	if string(snapAfter) != string(before) {
		t.Errorf("%s: the snapshot no longer serialises as its source did: it shares memory or lost a detail", name)
	}
}

func TestSnapshotSeesEveryChange(t *testing.T) {
	snapshotCase(t, "nothing", newTypical(), func(v *typical) {})
	snapshotCase(t, "slice element", newTypical(), func(v *typical) { v.Roles[1] = "viewer" })
	snapshotCase(t, "struct in slice", newTypical(), func(v *typical) { v.Cart[2].Qty++ })
	snapshotCase(t, "append within capacity", newTypical(), func(v *typical) { v.Cart = append(v.Cart[:1], typicalItem{"X", 1}) })
	snapshotCase(t, "truncate", newTypical(), func(v *typical) { v.Roles = v.Roles[:0] })
	snapshotCase(t, "nil to empty", typical{}, func(v *typical) { v.Roles = []string{} })
	snapshotCase(t, "same string", newTypical(), func(v *typical) { v.Theme = "da" + "rk" })
	base := func() withTime {
		return withTime{At: t0, Ptr: &typicalItem{"A", 1}, Any: map[string]any{"k": []any{1.0, "x"}},
			M: map[string][]int{"a": {1, 2}}, Arr: [2][]string{{"p"}, nil}, F: 1.5, inner: 1}
	}
	snapshotCase(t, "unchanged", base(), func(v *withTime) {})
	snapshotCase(t, "time", base(), func(v *withTime) { v.At = v.At.Add(time.Second) })
	snapshotCase(t, "pointee", base(), func(v *withTime) { v.Ptr.Qty = 2 })
	snapshotCase(t, "inside any", base(), func(v *withTime) { v.Any.(map[string]any)["k"].([]any)[1] = "y" })
	snapshotCase(t, "map of slices", base(), func(v *withTime) { v.M["a"][0] = 9 })
	snapshotCase(t, "map key added", base(), func(v *withTime) { v.M["b"] = nil })
	snapshotCase(t, "array of slices", base(), func(v *withTime) { v.Arr[0][0] = "q" })
	snapshotCase(t, "unexported field", base(), func(v *withTime) { v.inner = 2 })
	snapshotCase(t, "map session", map[string]string{"a": "1"}, func(v *map[string]string) { (*v)["a"] = "2" })

	// The slice copies that bypass reflect: strings of any string type,
	// and elements without pointers.
	type role string
	type point struct {
		X, Y int32
		F    float64
	}
	type fast struct {
		Roles  []role
		IDs    []int64
		Points []point
		Empty  []int
	}
	fv := func() fast {
		return fast{Roles: []role{"a", "b"}, IDs: []int64{1, 2, 3}, Points: []point{{1, 2, 0.5}}, Empty: []int{}}
	}
	snapshotCase(t, "unchanged fast slices", fv(), func(v *fast) {})
	snapshotCase(t, "named string element", fv(), func(v *fast) { v.Roles[0] = "z" })
	snapshotCase(t, "int element", fv(), func(v *fast) { v.IDs[2] = 9 })
	snapshotCase(t, "struct element without pointers", fv(), func(v *fast) { v.Points[0].F = 1.5 })
	snapshotCase(t, "empty to nil", fv(), func(v *fast) { v.Empty = nil })

	// Empty is not nil on the reflect path either ("[]", not "null"):
	// for elements with pointers, behind maps and behind interfaces.
	type empties struct {
		Items  []typicalItem
		Anys   []any
		Ptrs   []*typicalItem
		Nested [][]int
		Times  []time.Time
		Maps   []map[string]int
		InMap  map[string][]any
		InAny  any
	}
	ev := func() empties {
		return empties{Items: []typicalItem{}, Anys: []any{}, Ptrs: []*typicalItem{}, Nested: [][]int{},
			Times: []time.Time{}, Maps: []map[string]int{}, InMap: map[string][]any{"tags": {}}, InAny: []any{}}
	}
	snapshotCase(t, "unchanged empty slices", ev(), func(v *empties) {})
	snapshotCase(t, "empty struct slice to nil", ev(), func(v *empties) { v.Items = nil })
	snapshotCase(t, "empty any slice to nil", ev(), func(v *empties) { v.Anys = nil })
	snapshotCase(t, "empty pointer slice to nil", ev(), func(v *empties) { v.Ptrs = nil })
	snapshotCase(t, "empty nested slice to nil", ev(), func(v *empties) { v.Nested = nil })
	snapshotCase(t, "empty time slice to nil", ev(), func(v *empties) { v.Times = nil })
	snapshotCase(t, "empty map slice to nil", ev(), func(v *empties) { v.Maps = nil })
	snapshotCase(t, "empty slice in a map to nil", ev(), func(v *empties) { v.InMap["tags"] = nil })
	snapshotCase(t, "empty slice in an interface to nil", ev(), func(v *empties) { v.InAny = []any(nil) })
	snapshotCase(t, "map session with an empty slice", map[string]any{"tags": []any{}},
		func(v *map[string]any) { (*v)["tags"] = []any(nil) })
}

func TestSnapshotNaNEqualsItself(t *testing.T) {
	// A NaN that never changed must not look like a change on every
	// request (NaN != NaN).
	v := struct{ F float64 }{math.NaN()}
	snap := v
	if !newSnapshotter[struct{ F float64 }]().same(&v, &snap) {
		t.Error("an unchanged NaN compared unequal")
	}
}

func TestSnapshotRandomMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	mutations := []func(*typical){
		func(v *typical) { v.UserID = rng.Int64N(3) },
		func(v *typical) { v.Name = []string{"Ada Lovelace", "Ada", ""}[rng.IntN(3)] },
		func(v *typical) {
			if len(v.Roles) > 0 {
				v.Roles[rng.IntN(len(v.Roles))] = []string{"admin", "editor", "x"}[rng.IntN(3)]
			}
		},
		func(v *typical) { v.Roles = append(v.Roles, "r") },
		func(v *typical) {
			if len(v.Cart) > 0 {
				v.Cart[rng.IntN(len(v.Cart))].Qty = rng.IntN(6)
			}
		},
		func(v *typical) { v.Cart = v.Cart[:rng.IntN(len(v.Cart)+1)] },
		func(v *typical) { v.Cart = nil },
	}
	for i := 0; i < 2000; i++ {
		n := rng.IntN(3)
		snapshotCase(t, "random", newTypical(), func(v *typical) {
			for j := 0; j < n; j++ {
				mutations[rng.IntN(len(mutations))](v)
			}
		})
	}
}

func TestSnapshotGivesUpOnCycles(t *testing.T) {
	c := &cyclic{N: 1}
	c.Next = c
	v := *c
	var snap cyclic
	if newSnapshotter[cyclic]().take(&snap, &v) {
		t.Error("a cyclic value was snapshotted: the walk must give up and fall back to serialising")
	}
}

func TestSelfSerialisingTypesAreSerialisedEveryTime(t *testing.T) {
	type data struct{ S selfMarshal }
	m := newTestManager[data](t, newClock())
	if m.snapper.ok() {
		t.Fatal("a type with MarshalJSON was judged walkable")
	}
	// Its JSON changes on every call, so every request writes the cookie.
	b := newBrowser(t)
	for i := 0; i < 2; i++ {
		if rec := b.do(handle(m, func(s *Session[data]) {}), "GET", "/"); i > 0 && rec.Header().Get("Set-Cookie") == "" {
			t.Error("a change only MarshalJSON knows about was missed")
		}
	}
}
