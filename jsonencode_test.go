package cookiesession

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// Types whose JSON encoding/json leaves to methods, or to its own rules.

// jePtrMarshaler marshals itself through a pointer receiver, with spaces
// encoding/json compacts away.
type jePtrMarshaler struct{ N int }

func (m *jePtrMarshaler) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{ "ptr" : %d, "html": "<&>" }`, m.N), nil
}

type jeValMarshaler int

func (m jeValMarshaler) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, `"v%d"`, int(m)), nil }

type jeFailingMarshaler struct{ Fail bool }

func (m jeFailingMarshaler) MarshalJSON() ([]byte, error) {
	if m.Fail {
		return nil, errors.New("refused")
	}
	return []byte(`"fine"`), nil
}

type jeText struct{ S string }

func (t *jeText) MarshalText() ([]byte, error) { return []byte("<" + t.S + ">"), nil }

// jeMarshalByte is a byte whose pointer marshals it: a []jeMarshalByte is
// no longer base64.
type jeMarshalByte byte

func (b *jeMarshalByte) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, `"b%d"`, *b), nil }

type (
	jeString string
	jeInt    int16
	jeUint   uint32
	jeFloat  float32
	jeBool   bool
	jeList   []jeString
)

type jeNode struct {
	Name string
	Kids []jeNode
	Next *jeNode `json:",omitempty"`
}

// jeMutualA and jeMutualB refer to each other.
type jeMutualA struct {
	B  *jeMutualB
	Bs []jeMutualB `json:"bs,omitempty"`
}

type jeMutualB struct {
	A *jeMutualA
	N int
}

type jeScalars struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	UP   uintptr
	F32  float32
	F64  float64
	S    string
	NS   jeString
	NI   jeInt
	NU   jeUint
	NF   jeFloat
	NB   jeBool
	Arr  [3]int8
	Arr0 [0]int
}

// jeOmit has omitempty on every kind encoding/json knows.
type jeOmit struct {
	B     bool               `json:"b,omitempty"`
	I     int                `json:"i,omitempty"`
	I8    int8               `json:"i8,omitempty"`
	U16   uint16             `json:"u16,omitempty"`
	U64   uint64             `json:"u64,omitempty"`
	UP    uintptr            `json:"up,omitempty"`
	F32   float32            `json:"f32,omitempty"`
	F64   float64            `json:"f64,omitempty"`
	S     string             `json:"s,omitempty"`
	NS    jeString           `json:"ns,omitempty"`
	P     *int               `json:"p,omitempty"`
	Sl    []int              `json:"sl,omitempty"`
	By    []byte             `json:"by,omitempty"`
	M     map[string]int     `json:"m,omitempty"`
	Arr   [2]int             `json:"arr,omitempty"`
	Arr0  [0]int             `json:"arr0,omitempty"`
	Any   any                `json:"any,omitempty"`
	St    struct{ A int }    `json:"st,omitempty"`
	T     time.Time          `json:"t,omitempty"`
	Mar   jeValMarshaler     `json:"mar,omitempty"`
	MarS  jeFailingMarshaler `json:"mars,omitempty"`
	Ch    chan int           `json:"-"`
	Last  int                `json:"last"`
	dummy int
}

type jeSelf struct {
	Ptr     jePtrMarshaler
	PtrP    *jePtrMarshaler
	Val     jeValMarshaler
	ValP    *jeValMarshaler
	Text    jeText
	TextP   *jeText
	Time    time.Time
	TimeP   *time.Time
	Num     json.Number
	Raw     json.RawMessage
	Bytes   []byte
	MBytes  []jeMarshalByte
	ArrB    [3]byte
	Times   []time.Time
	Marsh   []jePtrMarshaler
	Iface   json.Marshaler
	Map     map[string]any
	IntKeys map[int]string
}

type jeTagged struct {
	A int    `json:"a"`
	B string `json:"bee,omitempty"`
	C bool   `json:"-"`
	//lint:ignore SA5008 encoding/json names this field "-"
	D int    `json:"-,"`
	E string `json:",omitempty"`
	//lint:ignore SA5008 encoding/json ignores options it does not know
	F      int `json:"f,unknownopt"`
	hidden int
	Under_ int `json:"with_under-dash"`
}

type jeInner struct{ X, Y int }

type jeEmbedded struct {
	jeInner
	Z int
}

type jeHasEmbedded struct {
	Name string
	E    jeEmbedded
	Es   []jeEmbedded
}

type jeStringOpt struct {
	N int `json:",string"`
}

type jeUnsupported struct {
	A int
	C chan int
}

type jeUnsupportedBehind struct {
	P  *jeUnsupported
	S  []jeUnsupported
	F  func()             `json:"-"`
	CP *complex128        `json:",omitempty"`
	M  map[string]func()  `json:",omitempty"`
	I  any                `json:",omitempty"`
	X  [0]unsafe.Pointer  `json:",omitempty"`
	Y  []chan int         `json:",omitempty"`
	Z  map[string]float64 `json:",omitempty"`
}

type jeFloats struct {
	F64 float64
	F32 float32
	P   *float64
	S   []float64
}

type jeWithIface struct {
	V any
	E error
}

func jeChain(n int) *jeNode {
	var head *jeNode
	for i := range n {
		head = &jeNode{Name: fmt.Sprint(i), Next: head}
	}
	return head
}

// jeEncodeCases are values whose encoding must be json.Marshal's.
func jeEncodeCases() []struct {
	name string
	v    any
} {
	ptrTo := func(f float64) *float64 { return &f }
	n := 7
	cyclic := &jeNode{Name: "loop"}
	cyclic.Next = cyclic
	mutual := &jeMutualA{B: &jeMutualB{N: 1}, Bs: []jeMutualB{{A: &jeMutualA{}, N: 2}}}
	when := time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.FixedZone("X", 3600))
	var nilText *jeText
	return []struct {
		name string
		v    any
	}{
		{"typical", newTypical()},
		{"typical zero", typical{}},
		{"typical empty slices", typical{Roles: []string{}, Cart: []typicalItem{}}},
		{"scalars zero", jeScalars{}},
		{"scalars max", jeScalars{
			B: true, I: math.MaxInt, I8: math.MaxInt8, I16: math.MaxInt16, I32: math.MaxInt32, I64: math.MaxInt64,
			U: math.MaxUint, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64, UP: ^uintptr(0),
			F32: math.MaxFloat32, F64: math.MaxFloat64, S: "s", NS: "ns", NI: math.MaxInt16, NU: math.MaxUint32,
			NF: math.MaxFloat32, NB: true, Arr: [3]int8{math.MaxInt8, 0, math.MinInt8},
		}},
		{"scalars min", jeScalars{
			I: math.MinInt, I8: math.MinInt8, I16: math.MinInt16, I32: math.MinInt32, I64: math.MinInt64,
			F32: -math.MaxFloat32, F64: -math.MaxFloat64, NI: math.MinInt16, NF: -math.SmallestNonzeroFloat32,
		}},
		{"scalars smallest", jeScalars{F32: math.SmallestNonzeroFloat32, F64: math.SmallestNonzeroFloat64}},
		{"top-level int", 42},
		{"top-level negative int8", int8(-128)},
		{"top-level uint64", uint64(math.MaxUint64)},
		{"top-level bool", true},
		{"top-level string", "hello <world> & \"you\""},
		{"top-level named string", jeString("x\u2028y")},
		{"top-level float64", 123.456},
		{"top-level float32", float32(0.1)},
		{"top-level pointer", &n},
		{"top-level nil pointer", (*int)(nil)},
		{"top-level pointer pointer", func() **int { p := &n; return &p }()},
		{"top-level slice", []string{"a", "b"}},
		{"top-level nil slice", []string(nil)},
		{"top-level array", [2]string{"a", "<b>"}},
		{"top-level map", map[string]int{"b": 2, "a": 1}},
		{"top-level interface", any(1)},
		{"top-level bytes", []byte("hi")},
		{"top-level time", when},
		{"top-level chan", make(chan int)},
		{"top-level func", func() {}},
		{"top-level complex", complex(1, 2)},
		{"top-level unsafe pointer", unsafe.Pointer(&n)},
		{"top-level struct with string option", jeStringOpt{N: 3}},
		{"top-level nil text marshaler", nilText},
		{"floats", jeFloats{F64: 123.456, F32: 123.456, P: ptrTo(math.Copysign(0, -1)), S: []float64{0, 1e20, 1e21, 1e-6, 1e-7, -1e-7, 1e-10, 1e100, 5e-324, 0.1, 1.0 / 3}}},
		{"float cutoffs 32", []float32{1e-6, 9.999999e-7, 1e21, 9.999999e20, 1e20, 1e-7, 3.4e38, 1.4e-45, -1e-9}},
		{"float negative zero", []float64{math.Copysign(0, -1), 0}},
		{"float32 negative zero", []float32{float32(math.Copysign(0, -1))}},
		{"float64 NaN", jeFloats{F64: math.NaN()}},
		{"float64 +Inf", jeFloats{F64: math.Inf(1)}},
		{"float32 -Inf", jeFloats{F32: float32(math.Inf(-1))}},
		{"float NaN behind pointer", jeFloats{P: ptrTo(math.NaN())}},
		{"float Inf in slice", jeFloats{S: []float64{1, math.Inf(-1)}}},
		{"float NaN in map", map[string]float64{"a": math.NaN()}},
		{"float NaN omitted", struct {
			F float64 `json:"-"`
		}{math.NaN()}},
		{"strings", []string{
			"", "plain", `<>&"\`, "a<b>c&d", "quote\"back\\slash",
			"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
			"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x7f",
			"line\u2028para\u2029end", "\u2028", "\u2029x", "\u202a\u2027",
			"bad \xff utf8", "\xc3", "\xc3(", "\xe2\x80", "\xe2\x80\xa8", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
			"héllo wörld", "日本語", "emoji 😀👍🏽", "\U0010ffff", "\ufffd", "trailing \xf0\x9f\x98",
			strings.Repeat("long ascii ", 40), strings.Repeat("<é>", 30),
		}},
		{"named strings", jeList{"a", "<b>", ""}},
		{"nil and empty slices", struct {
			Nil, Empty []int
			NilS       []string
			EmptyS     []string
			Nested     [][]int
		}{Empty: []int{}, EmptyS: []string{}, Nested: [][]int{nil, {}, {1, 2}}}},
		{"pointers", struct {
			Nil   *int
			Set   *int
			PP    **int
			NilPP **int
			S     *string
			St    *typicalItem
		}{Set: &n, PP: func() **int { p := &n; return &p }(), NilPP: new(*int), S: new(string), St: &typicalItem{"x", 1}}},
		{"omitempty zero", jeOmit{}},
		{"omitempty negative zero", jeOmit{F32: float32(math.Copysign(0, -1)), F64: math.Copysign(0, -1)}},
		{"omitempty empty non-nil", jeOmit{Sl: []int{}, By: []byte{}, M: map[string]int{}, Any: nil}},
		{"omitempty set", jeOmit{
			B: true, I: -1, I8: 1, U16: 2, U64: 3, UP: 4, F32: 0.5, F64: -0.25, S: "s", NS: "ns",
			P: &n, Sl: []int{1}, By: []byte{1, 2}, M: map[string]int{"k": 1}, Arr: [2]int{}, Any: 0,
			St: struct{ A int }{1}, T: when, Mar: 5, MarS: jeFailingMarshaler{}, Last: 9, dummy: 10,
		}},
		{"omitempty pointer to zero", jeOmit{P: new(int), Any: (*int)(nil)}},
		{"tags", jeTagged{A: 1, B: "b", C: true, D: 4, E: "", F: 6, hidden: 7, Under_: 8}},
		{"unexported only", struct{ a, b int }{1, 2}},
		{"empty struct", struct{}{}},
		{"embedded", jeEmbedded{jeInner{1, 2}, 3}},
		{"embedded as field", jeHasEmbedded{"n", jeEmbedded{jeInner{1, 2}, 3}, []jeEmbedded{{}, {jeInner{4, 5}, 6}}}},
		{"self-encoding zero", jeSelf{}},
		{"self-encoding set", jeSelf{
			Ptr: jePtrMarshaler{1}, PtrP: &jePtrMarshaler{2}, Val: 3, ValP: new(jeValMarshaler),
			Text: jeText{"t"}, TextP: &jeText{"tp"}, Time: when, TimeP: &when,
			Num: "12.5e3", Raw: json.RawMessage(` { "raw" : [1, 2] } `), Bytes: []byte("\x00\xffbytes"),
			MBytes: []jeMarshalByte{1, 2}, ArrB: [3]byte{1, 2, 3}, Times: []time.Time{when, {}},
			Marsh: []jePtrMarshaler{{4}, {5}}, Iface: jeValMarshaler(6),
			Map:     map[string]any{"z": 1, "a": []any{"x", 2.5, nil, map[string]any{"<": ">"}}, "m": &jePtrMarshaler{7}},
			IntKeys: map[int]string{3: "c", -1: "a", 20: "b"},
		}},
		{"invalid json.Number", jeSelf{Num: "not a number"}},
		{"failing MarshalJSON", struct{ M jeFailingMarshaler }{jeFailingMarshaler{Fail: true}}},
		{"failing MarshalJSON deep", []*struct{ M []jeFailingMarshaler }{{M: []jeFailingMarshaler{{}, {Fail: true}}}}},
		{"failing MarshalJSON omitted", struct {
			M *jeFailingMarshaler `json:",omitempty"`
		}{}},
		{"interfaces", []any{nil, 1, "s<", 2.5, true, []int{1}, map[string]int{"a": 1}, typicalItem{"x", 1}, &typicalItem{"y", 2}, when, jeValMarshaler(1), (*int)(nil), []byte("b")}},
		{"interface fields", jeWithIface{V: struct{ A string }{"<a>"}, E: nil}},
		{"interface field error value", jeWithIface{E: errors.New("e")}},
		{"interface holding NaN", jeWithIface{V: math.NaN()}},
		{"interface holding chan", jeWithIface{V: make(chan int)}},
		{"maps", struct {
			Nil   map[string]int
			Empty map[string]int
			Set   map[string][]string
		}{Empty: map[string]int{}, Set: map[string][]string{"b": {"x"}, "a": nil, "<": {}}}},
		{"map of funcs", map[string]func(){"f": nil}},
		{"unsupported field", jeUnsupported{A: 1}},
		{"unsupported nil behind pointer", jeUnsupportedBehind{}},
		{"unsupported behind pointer", jeUnsupportedBehind{P: &jeUnsupported{}}},
		{"unsupported in empty slice", jeUnsupportedBehind{S: []jeUnsupported{}}},
		{"unsupported in slice", jeUnsupportedBehind{S: []jeUnsupported{{}}}},
		{"unsupported complex behind pointer", jeUnsupportedBehind{CP: new(complex128)}},
		{"unsupported in map", jeUnsupportedBehind{M: map[string]func(){"f": nil}}},
		{"unsupported chan slice", jeUnsupportedBehind{Y: []chan int{nil}}},
		{"recursive", jeNode{Name: "root", Kids: []jeNode{{Name: "a"}, {Name: "b", Kids: []jeNode{{Name: "c"}}}}, Next: &jeNode{Name: "next"}}},
		{"recursive shallow chain", *jeChain(10)},
		{"recursive deep chain", *jeChain(200)},
		{"recursive chain past cycle detection", *jeChain(1100)},
		{"recursive cycle", *cyclic},
		{"mutually recursive", *mutual},
		{"deep slices", [][][][]int{{{{1}}, {}}, nil}},
		{"array of structs", [2]typicalItem{{"a", 1}, {"<b>", -2}}},
		{"array of arrays", [2][2]float32{{0.1, 1e-7}, {1e21, -0}}},
		{"anonymous struct", struct {
			A struct {
				B struct{ C []string }
			}
		}{}},
	}
}

// checkJSONEncode asserts that the compiled encoder writes v, which must be
// addressable, exactly as json.Marshal does, and fails exactly as it does.
func checkJSONEncode(t *testing.T, v reflect.Value) {
	t.Helper()
	want, wantErr := json.Marshal(v.Addr().Interface())
	e := newJSONEncoder(v.Type())
	if e == nil {
		return // json.Marshal itself is used
	}
	prefix := []byte("prefix:")
	got, err := e.appendJSON(prefix[:len(prefix):len(prefix)], v.Addr().UnsafePointer())
	if (err == nil) != (wantErr == nil) || err != nil && (err.Error() != wantErr.Error() || reflect.TypeOf(err) != reflect.TypeOf(wantErr)) {
		t.Fatalf("error %#v, json.Marshal's %#v", err, wantErr)
	}
	if err != nil {
		if !bytes.Equal(got, prefix) {
			t.Fatalf("failing appendJSON returned %q, want dst %q", got, prefix)
		}
		return
	}
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("appendJSON wrote\n%s\njson.Marshal\n%s", got, want)
	}
	// The same again into a buffer with room.
	got, err = e.appendJSON(make([]byte, 0, len(want)+1), v.Addr().UnsafePointer())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("second appendJSON wrote %s, %v", got, err)
	}
}

func TestJSONEncode(t *testing.T) {
	for _, tt := range jeEncodeCases() {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.New(reflect.TypeOf(tt.v)).Elem()
			v.Set(reflect.ValueOf(tt.v))
			checkJSONEncode(t, v)
		})
	}
}

// TestJSONEncodeStringBytes puts every byte, and every rune json.Marshal
// treats specially, at every position of strings of every length the
// short-string path and the word scan treat apart.
func TestJSONEncodeStringBytes(t *testing.T) {
	var specials []string
	for c := range 256 {
		specials = append(specials, string([]byte{byte(c)}))
	}
	specials = append(specials, "\u2028", "\u2029", "é", "😀", "\xe2\x80", "\xf0\x9f\x98")
	for _, sp := range specials {
		for n := range 26 {
			for pos := range n + 1 {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("z", n-pos)
				want, _ := json.Marshal(s)
				if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("%q: wrote %s, json.Marshal %s", s, got, want)
				}
			}
		}
	}
}

// TestJSONEncodeLengths writes keys and strings of every length around
// the 16 bytes written as words, into buffers with and without room.
func TestJSONEncodeLengths(t *testing.T) {
	for kn := 1; kn <= 20; kn++ {
		typ := reflect.StructOf([]reflect.StructField{
			{Name: "S", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + strings.Repeat("k", kn) + `"`)},
			{Name: "N", Type: reflect.TypeFor[int](), Tag: reflect.StructTag(`json:"` + strings.Repeat("n", kn) + `"`)},
			{Name: "L", Type: reflect.TypeFor[[]string]()},
		})
		for sn := range 20 {
			v := reflect.New(typ).Elem()
			v.Field(0).SetString(strings.Repeat("s", sn))
			v.Field(1).SetInt(int64(sn))
			v.Field(2).Set(reflect.ValueOf([]string{strings.Repeat("x", sn), strings.Repeat("<", sn)}))
			checkJSONEncode(t, v)
		}
	}
}

// TestJSONEncodeWhole lists the types the compiled encoder leaves to
// json.Marshal entirely, and checks that it helps with the others.
func TestJSONEncodeWhole(t *testing.T) {
	tests := []struct {
		v        any
		compiled bool
	}{
		{typical{}, true},
		{&typical{}, true},
		{[]typical{}, true},
		{0, true},
		{"", true},
		{jeEmbedded{}, false},
		{map[string]any{}, false},
		{any(nil), false},
		{[]byte{}, false},
		{time.Time{}, false},
		{jePtrMarshaler{}, false},
		{new(jeValMarshaler), false},
		{jeText{}, false},
		{json.Number(""), false},
		{make(chan int), false},
		{complex64(0), false},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.v)
		if typ == nil {
			typ = reflect.TypeFor[any]()
		}
		if got := newJSONEncoder(typ) != nil; got != tt.compiled {
			t.Errorf("%v: compiled = %t, want %t", typ, got, tt.compiled)
		}
	}
}

// TestJSONEncodeConcurrent builds plans for fresh types from many
// goroutines at once, recursive ones included, for the race detector.
func TestJSONEncodeConcurrent(t *testing.T) {
	type fresh struct {
		Name string
		Self []fresh
		Mut  *jeMutualA
	}
	v := fresh{Name: "a", Self: []fresh{{Name: "b"}}, Mut: &jeMutualA{B: &jeMutualB{N: 3}}}
	want, _ := json.Marshal(&v)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			e := newJSONEncoder(reflect.TypeFor[fresh]())
			for range 50 {
				got, err := e.appendJSON(nil, unsafe.Pointer(&v))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("got %s, %v, want %s", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestJSONEncodeAllocs(t *testing.T) {
	v := newTypical()
	e := newJSONEncoder(reflect.TypeFor[typical]())
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = e.appendJSON(buf[:0], unsafe.Pointer(&v))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations with room in dst, want 0", allocs)
	}
}

// jeFuzz is the struct FuzzJSONEncode fills in, with a bit of everything.
type jeFuzz struct {
	S     string
	T     string  `json:"t,omitempty"`
	I     int64   `json:",omitempty"`
	I8    int8    `json:"i8"`
	U     uint64  `json:"u"`
	U16   uint16  `json:"u16,omitempty"`
	F     float64 `json:"f"`
	F32   float32 `json:"f32,omitempty"`
	B     bool    `json:",omitempty"`
	P     *string
	L     []string `json:",omitempty"`
	Items []typicalItem
	Arr   [2]float32
	Any   any `json:",omitempty"`
	M     map[string]jeString
	Mar   *jePtrMarshaler `json:",omitempty"`
	Next  *jeFuzz         `json:",omitempty"`
}

func FuzzJSONEncode(f *testing.F) {
	f.Add("Ada", "<script>", int64(4711), uint64(7), math.Float64bits(123.456), math.Float32bits(1e-7), true, uint8(3))
	f.Add("", "", int64(0), uint64(0), uint64(0), uint32(0), false, uint8(0))
	f.Add("\xff\u2028\x00", "日本😀", int64(math.MinInt64), uint64(math.MaxUint64), math.Float64bits(math.NaN()), math.Float32bits(float32(math.Inf(1))), true, uint8(200))
	f.Add("a\"b\\c", "\t\n\r\b\f", int64(-1), uint64(1<<53+1), math.Float64bits(1e21), math.Float32bits(1e21), false, uint8(70))
	f.Fuzz(func(t *testing.T, s1, s2 string, i int64, u uint64, fbits uint64, f32bits uint32, b bool, depth uint8) {
		fl, fl32 := math.Float64frombits(fbits), math.Float32frombits(f32bits)
		v := &jeFuzz{
			S: s1, T: s2, I: i, I8: int8(i), U: u, U16: uint16(u), F: fl, F32: fl32, B: b,
			Items: []typicalItem{{s2, int(i)}, {s1, int(u)}},
			Arr:   [2]float32{fl32, float32(fl)},
		}
		if b {
			v.P, v.L, v.Mar = &s2, []string{s1, s2, ""}, &jePtrMarshaler{int(i)}
			v.M = map[string]jeString{s1: jeString(s2), s2: ""}
		}
		switch u % 5 {
		case 1:
			v.Any = s1
		case 2:
			v.Any = fl
		case 3:
			v.Any = []any{i, s2, b}
		case 4:
			v.Any = &typicalItem{s1, int(i)}
		}
		// Chains around maxJSONEncDepth, which the plan hands back to
		// encoding/json.
		for range int(depth) % 100 {
			v = &jeFuzz{S: s2, F32: fl32, Next: v}
		}
		checkJSONEncode(t, reflect.ValueOf(v).Elem())

		tv := typical{UserID: i, Name: s1, Roles: []string{s2, s1}, Cart: []typicalItem{{s1, int(u)}}, CSRF: s2, Theme: s1 + s2}
		checkJSONEncode(t, reflect.ValueOf(&tv).Elem())
		strs := []string{s1, s2, s1 + s2}
		checkJSONEncode(t, reflect.ValueOf(&strs).Elem())
		floats := []any{fl, fl32}
		checkJSONEncode(t, reflect.ValueOf(&floats).Elem())
	})
}

func BenchmarkJSONEncode(b *testing.B) {
	v := newTypical()
	b.Run("compiled", func(b *testing.B) {
		e := newJSONEncoder(reflect.TypeFor[typical]())
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = e.appendJSON(buf[:0], unsafe.Pointer(&v)); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding/json", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = json.Marshal(&v); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
}
