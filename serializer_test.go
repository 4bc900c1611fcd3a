package cookiesession_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	. "github.com/ce967478/cookiesession"
)

// A session type whose fields encoding/json would drop without a word is
// refused when the Manager is made, with the field and the fix named.
func TestNewRefusesTypesThatLoseData(t *testing.T) {
	k := testKeys(t)
	type unexported struct {
		User string
		//lint:ignore U1000 the field is what New must refuse
		cart []string
	}
	type deep struct {
		Items []map[string]struct{ note string }
	}
	type withChan struct{ C chan int }
	type badKey struct{ M map[[2]int]string }
	refuse := func(name string, err error, want ...string) {
		t.Helper()
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to say %q", name, err, w)
			}
		}
	}
	_, err := New[unexported](k)
	refuse("unexported field", err, "unexported.cart is unexported", `json:"-"`)
	_, err = New[deep](k)
	refuse("unexported field deep inside", err, "deep.Items[][key].note is unexported")
	_, err = New[*user](k)
	refuse("pointer", err, "is a pointer: use cookiesession_test.user")
	_, err = New[withChan](k)
	refuse("channel", err, "withChan.C is of type chan int")
	_, err = New[badKey](k)
	refuse("map key", err, "keys of type [2]int")
	type (
		home struct{ Name, City string }
		work struct{ Name string }
		both struct {
			home
			work
		}
		shadowed struct {
			Name string
			work
		}
		tagged struct {
			User  string
			Login string `json:"User,omitempty"`
		}
	)
	_, err = New[both](k)
	refuse("the same name from two embedded structs", err, `both.home.Name and cookiesession_test.both.work.Name are both written as "Name"`)
	_, err = New[shadowed](k)
	refuse("a promoted field under an outer one", err, `shadowed.Name and cookiesession_test.shadowed.work.Name`)
	_, err = New[tagged](k)
	refuse("a tag that takes another field's name", err, `tagged.User and cookiesession_test.tagged.Login are both written as "User"`)
	_, err = New[diamond](k)
	refuse("the same struct embedded twice", err, `diamond.left.base.ID and cookiesession_test.diamond.right.base.ID are both written as "ID"`)
	_, err = New[node](k)
	refuse("a struct embedded within itself", err, "node.node embeds cookiesession_test.node within itself")

	type fine struct {
		User   string
		At     time.Time // unexported fields, but it marshals itself
		Raw    json.RawMessage
		Secret string `json:"-"`
		//lint:ignore U1000 the field is what New must accept
		hidden int   `json:"-"`
		Next   *fine // recursive
		embedded
	}
	if _, err := New[fine](k); err != nil {
		t.Errorf("a type JSON keeps whole was refused: %v", err)
	}
	if _, err := New[map[string]any](k); err != nil {
		t.Errorf("a bag of values was refused: %v", err)
	}
	// A Serializer that does not check types is trusted to keep them.
	if _, err := New[unexported](k, WithSerializer(plainJSON{})); err != nil {
		t.Errorf("a custom serializer's type was refused: %v", err)
	}
}

// embedded is unexported, but encoding/json promotes its exported fields.
type embedded struct{ Theme string }

// diamond embeds base twice, through left and right: encoding/json drops
// both IDs.
type (
	base    struct{ ID string }
	left    struct{ base }
	right   struct{ base }
	diamond struct {
		left
		right
	}
)

// node embeds itself: encoding/json writes only the outer V.
type node struct {
	//lint:ignore U1000 the field is what New must refuse
	*node
	V string
}

// plainJSON is a Serializer without CheckType.
type plainJSON struct{}

func (plainJSON) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (plainJSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// A deploy that adds or removes fields of the session type signs no one
// out: new fields are zero, removed ones ignored.
func TestSessionSurvivesShapeChanges(t *testing.T) {
	type before struct {
		Name    string
		Removed int
	}
	type after struct {
		Name  string
		Added []string
	}
	clock := newClock()
	m1 := newTestManager[before](t, clock)
	m2 := newTestManager[after](t, clock)
	b := newBrowser(t)
	b.do(handle(m1, func(s *Session[before]) { s.Data = before{"ada", 7} }), "GET", "/")
	var got after
	var isNew bool
	b.do(handle(m2, func(s *Session[after]) { got, isNew = s.Data, s.IsNew() }), "GET", "/")
	if isNew || got.Name != "ada" || got.Added != nil {
		t.Errorf("after the deploy: %+v new=%v", got, isNew)
	}
}

func TestJSONSerializerSurvivesShapeChanges(t *testing.T) {
	type V1 struct {
		User string
		Old  int
	}
	type V2 struct {
		User string
		New  []string
	}
	var s JSONSerializer
	b, err := s.Marshal(V1{User: "ada", Old: 3})
	if err != nil {
		t.Fatal(err)
	}
	var v2 V2
	if err := s.Unmarshal(b, &v2); err != nil || v2.User != "ada" || v2.New != nil {
		t.Fatalf("v2 = %+v, err = %v", v2, err)
	}
	if !json.Valid(b) {
		t.Error("not JSON")
	}
}

// myInts is an unexported non-struct type: embedded, encoding/json skips
// it whole.
type myInts []int

// CheckType goes through arrays, pointers and every kind encoding/json
// cannot encode, and knows which fields JSON writes under which name: a
// field tagged json:"-" writes none, and an embedded struct with a tag
// is a field of that name, not promoted fields.
func TestJSONSerializerCheckType(t *testing.T) {
	type (
		Home struct{ Name string }
		Work struct{ Name string }
	)
	tests := []struct {
		name string
		t    reflect.Type
		want string // "" to accept
	}{
		{"array of structs with an unexported field", reflect.TypeFor[struct{ A [2]struct{ x int } }](), "A[].x is unexported"},
		{"pointer to a struct with an unexported field", reflect.TypeFor[struct{ P *struct{ x int } }](), "P[].x is unexported"},
		{"complex64", reflect.TypeFor[struct{ C complex64 }](), ".C is of type complex64"},
		{"complex128", reflect.TypeFor[struct{ C complex128 }](), ".C is of type complex128"},
		{"function", reflect.TypeFor[struct{ F func() }](), ".F is of type func()"},
		{"unsafe pointer", reflect.TypeFor[struct{ U unsafe.Pointer }](), ".U is of type unsafe.Pointer"},
		{"unexported struct field, not embedded", reflect.TypeFor[struct{ inner struct{ A string } }](), ".inner is unexported"},
		{"embedded unexported non-struct", reflect.TypeFor[struct{ myInts }](), ".myInts is unexported"},
		{"two fields tagged json:\"-\"", reflect.TypeFor[struct {
			A string `json:"-"`
			B string `json:"-"`
		}](), ""},
		{"embedded structs with tags", reflect.TypeFor[struct {
			Home `json:"home"`
			Work `json:"work"`
		}](), ""},
		{"a field named by its tag with options", reflect.TypeFor[struct {
			A string `json:"x,omitempty"`
			B string `json:"A"`
		}](), ""},
		{"a field that marshals itself as text", reflect.TypeFor[struct{ IP netip.Addr }](), ""},
		{"a field that marshals itself through a pointer", reflect.TypeFor[struct{ N big.Int }](), ""},
		{"a field that marshals itself as JSON through a pointer", reflect.TypeFor[struct{ P ptrJSON }](), ""},
		// A map's values are not addressable: encoding/json writes their
		// fields instead of calling a pointer method, {} for these.
		{"map values that marshal themselves through a pointer", reflect.TypeFor[struct{ M map[string]ptrJSON }](), ".M[key] is of type cookiesession_test.ptrJSON"},
		{"map values holding a field that marshals itself through a pointer", reflect.TypeFor[map[string]struct{ N big.Int }](), "[key].N is of type big.Int"},
		{"map values holding an array of them", reflect.TypeFor[map[string][1]big.Int](), "[key][] is of type big.Int"},
		{"a struct met first as a field, then as a map's values", reflect.TypeFor[struct {
			A struct{ N big.Int }
			M map[string]struct{ N big.Int }
		}](), ".M[key].N is of type big.Int"},
		{"map values that point to them", reflect.TypeFor[map[string]*ptrJSON](), ""},
		{"map values that hold a slice of them", reflect.TypeFor[map[string][]big.Int](), ""},
		{"map keys that marshal themselves as text", reflect.TypeFor[map[netip.Addr]int](), ""},
		{"uintptr map keys", reflect.TypeFor[map[uintptr]int](), ""},
		{"map keys that marshal themselves as text through a pointer", reflect.TypeFor[map[ptrTextKey]int](), "keys of type cookiesession_test.ptrTextKey"},
		// The embedded time.Time's MarshalJSON is promoted: encoding/json
		// writes only the time, and Name is lost.
		{"embedded time.Time beside fields", reflect.TypeFor[stamped](), "embeds time.Time"},
		{"embedded time.Time beside fields, deeper", reflect.TypeFor[struct{ S []stamped }](), ".S[] embeds time.Time"},
		{"embedded time.Time alone", reflect.TypeFor[struct{ time.Time }](), ""},
		// MarshalJSON is time.Time's alone, so it is promoted; the
		// address is lost.
		{"embedded time.Time beside an embedded netip.Addr", reflect.TypeFor[struct {
			time.Time
			netip.Addr
		}](), "embeds time.Time"},
		// note is lost as any unexported field is, and the promoted
		// method hides it from the rule that refuses those.
		{"embedded time.Time beside an unexported field", reflect.TypeFor[struct {
			time.Time
			note string
		}](), "embeds time.Time"},
		{"embedded time.Time beside a field tagged json:\"-\"", reflect.TypeFor[struct {
			time.Time
			Cache string `json:"-"`
		}](), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := JSONSerializer{}.CheckType(tt.t)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// stamped embeds time.Time: its methods are promoted, so encoding/json
// writes a stamped as the time alone, and Name never reaches the cookie.
type stamped struct {
	time.Time
	Name string
}

// ptrTextKey marshals itself as text, with pointer methods only: as a map
// key, which is never addressable, encoding/json cannot call them, and
// refuses the map.
type ptrTextKey struct{ a, b int }

func (k *ptrTextKey) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%d-%d", k.a, k.b), nil }
func (k *ptrTextKey) UnmarshalText(b []byte) error {
	_, err := fmt.Sscanf(string(b), "%d-%d", &k.a, &k.b)
	return err
}

// ptrJSON marshals itself, with pointer methods only.
type ptrJSON struct{ v int }

func (p *ptrJSON) MarshalJSON() ([]byte, error) { return json.Marshal(p.v) }
func (p *ptrJSON) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &p.v) }
