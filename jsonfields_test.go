package cookiesession

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestJSONFields(t *testing.T) {
	type inner struct{ A int }
	tests := []struct {
		name string
		v    any
		want []string // keys in order; nil: left to encoding/json
	}{
		{"plain", struct {
			A int
			B string
		}{}, []string{"A", "B"}},
		{"tags", struct {
			A int    `json:"a"`
			B string `json:",omitempty"`
			C bool   `json:"-"`
			e int
		}{B: "set, so that encoding/json writes it"}, []string{"a", "B"}},
		{"embedded", struct{ inner }{}, nil},
		{"duplicate key", struct {
			A int
			B int `json:"A"`
		}{}, nil},
		{"omitzero", struct {
			A int `json:",omitzero"`
		}{}, nil},
		{"string option", struct {
			A int `json:",string"`
		}{}, nil},
		{"key needing care", struct {
			A int `json:"a<b"`
		}{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, ok := jsonFields(reflect.TypeOf(tt.v))
			if ok != (tt.want != nil) {
				t.Fatalf("supported = %t, want %t", ok, tt.want != nil)
			}
			var keys []string
			for _, f := range fields {
				keys = append(keys, f.name)
			}
			if !reflect.DeepEqual(keys, tt.want) && ok {
				t.Fatalf("keys %q, want %q", keys, tt.want)
			}
			if !ok {
				return
			}
			// The keys are those encoding/json writes, in its order.
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != len(keys) {
				t.Fatalf("encoding/json wrote %s, want keys %q", b, keys)
			}
			for _, k := range keys {
				if _, ok := m[k]; !ok {
					t.Fatalf("encoding/json wrote %s, without key %q", b, k)
				}
			}
		})
	}
}

func TestJSONRoundTrips(t *testing.T) {
	type node struct {
		Name string
		Kids []node
		Next *node
	}
	tests := []struct {
		v    any
		want bool
	}{
		{newTypical(), true},
		{node{Name: "a", Kids: []node{{Name: "b"}}, Next: &node{}}, false},
		{struct {
			X []int `json:",omitempty"`
		}{[]int{}}, false},
		{struct{ P *[]int }{new([]int)}, false},
		{struct{ P **int }{new(*int)}, false},
		{struct{ P *typicalItem }{&typicalItem{}}, true},
		{struct {
			A [2]int8
			F float32
			P *string
			U uint64 `json:"u,omitempty"`
		}{A: [2]int8{-1, 1}, F: 1.5}, true},
		{struct{ T time.Time }{time.Now()}, false},
		{struct{ A any }{1}, false},
		{struct{ M map[string]int }{map[string]int{}}, false},
		{struct{ B []byte }{[]byte{}}, false},
		{struct{ N json.Number }{"1"}, false},
		{struct {
			A int
			b int
		}{1, 2}, false},
		{struct {
			A int `json:"-"`
		}{1}, false},
		{struct {
			F float64 `json:",omitempty"`
		}{math.Copysign(0, -1)}, false},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.v)
		if got := jsonRoundTrips(typ); got != tt.want {
			t.Errorf("jsonRoundTrips(%v) = %t, want %t", typ, got, tt.want)
		}
		// Where it says yes, the sample does come back the same.
		if !tt.want {
			continue
		}
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(typ)
		if err := json.Unmarshal(b, back.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Elem().Interface(), tt.v) {
			t.Errorf("%v: %+v came back as %+v", typ, tt.v, back.Elem().Interface())
		}
	}
}
