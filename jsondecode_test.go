package cookiesession

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// jdUpper unmarshals itself through a pointer: encoding/json calls it even
// for null when it is a value field, never when it is behind a nil pointer.
type jdUpper string

func (u *jdUpper) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*u = "<null>"
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("jdUpper: %w", err)
	}
	*u = jdUpper(strings.ToUpper(s))
	return nil
}

// jdText unmarshals itself from JSON strings only.
type jdText struct{ V string }

func (t jdText) MarshalText() ([]byte, error) { return []byte(t.V), nil }

func (t *jdText) UnmarshalText(b []byte) error {
	if bytes.HasPrefix(b, []byte("!")) {
		return errors.New("jdText: bang")
	}
	t.V = "text:" + string(b)
	return nil
}

type jdRole string

type jdInner struct{ X int }

// jdEmbeds is left to encoding/json by jsonFields.
type jdEmbeds struct {
	jdInner
	Y int
}

// jdAll has a field of every kind the decoder handles, or hands on.
type jdAll struct {
	B       bool
	I       int
	I8      int8
	I16     int16
	I32     int32
	I64     int64
	U       uint
	U8      uint8
	U16     uint16
	U32     uint32
	U64     uint64
	UP      uintptr
	F32     float32
	F64     float64
	S       string
	Kind    string // a key of Kelvin sign, "\u212aind", matches it
	Tagged  string `json:"tag"`
	Skipped string `json:"-"`
	hidden  string
	P       *int
	PP      **string
	PS      *typicalItem
	Arr     [3]int
	Strs    []string
	Roles   []jdRole
	Ints    []int
	Items   []typicalItem
	Matrix  [][]int
	Nested  struct {
		X int
		Y []string
	}
	Empty struct{}
	Nones []struct{}
	T     time.Time
	PT    *time.Time
	Up    jdUpper
	PUp   *jdUpper
	Txt   jdText
	M     map[string]int
	A     any
	PA    *any
	Bytes []byte
	Num   json.Number
	Raw   json.RawMessage
	Emb   jdEmbeds
	Role  jdRole
}

// jdOdd has fields encoding/json cannot decode anything but null into.
type jdOdd struct {
	C  complex128
	Ch chan int
	F  func()
	S  fmt.Stringer
}

// jdFolded has keys that differ only in case: exact matches win.
type jdFolded struct {
	Lower int `json:"a"`
	Upper int `json:"A"`
}

type jdNode struct {
	Name string
	Kids []jdNode
	Next *jdNode
}

// jdMutualA and jdMutualB refer to each other; only the concurrency test
// uses them, so that their plans are built there.
type jdMutualA struct {
	B  *jdMutualB
	Bs []jdMutualB
}

type jdMutualB struct {
	A *jdMutualA
	N int
}

func newJDAll() jdAll {
	n, s := 7, "pp"
	ps := &s
	tm := time.Date(2024, 5, 6, 7, 8, 9, 10, time.FixedZone("x", 3600))
	up := jdUpper("X")
	var a any = map[string]any{"k": []any{1.0, "two", nil}}
	v := jdAll{
		B: true, I: -1, I8: -128, I16: 32767, I32: -2147483648, I64: 1 << 62,
		U: 1, U8: 255, U16: 65535, U32: 4294967295, U64: 1<<63 + 5, UP: 42,
		F32: 1.5, F64: -0.000123,
		S: "héllo <&> \u2028 \"q\" \\ \x01", Kind: "k", Tagged: "t", Skipped: "gone", hidden: "gone",
		P: &n, PP: &ps, PS: &typicalItem{"SKU-1", 3},
		Arr: [3]int{1, 2, 3}, Strs: []string{}, Roles: []jdRole{"admin"}, Ints: []int{1, -2},
		Items: []typicalItem{{"A", 1}}, Matrix: [][]int{{1}, {}, nil},
		Nones: []struct{}{{}, {}},
		T:     tm, PT: &tm, Up: "UP", PUp: &up, Txt: jdText{"t"},
		M: map[string]int{"a": 1}, A: a, PA: &a, Bytes: []byte("hi"), Num: "12.5",
		Raw: json.RawMessage(`{"x":[1]}`), Emb: jdEmbeds{jdInner{1}, 2}, Role: "r",
	}
	v.Nested.X, v.Nested.Y = 5, []string{"y"}
	return v
}

func jdMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jdCompare decodes data into a zero T with the compiled decoder and with
// json.Unmarshal, and fails on any difference. It reports whether the fast
// path decoded data by itself.
func jdCompare[T any](t testing.TB, data []byte) (fast bool) {
	t.Helper()
	var want T
	wantErr := json.Unmarshal(data, &want)

	d := newJSONDecoder(reflect.TypeFor[T]())
	if d == nil {
		t.Fatalf("no decoder for %v", reflect.TypeFor[T]())
	}
	// Decode from a copy, then scribble over it: the value must not share
	// the input's bytes.
	in := bytes.Clone(data)
	var got T
	gotErr := d.decode(in, unsafe.Pointer(&got))
	for i := range in {
		in[i] = 'x'
	}
	var probe T
	fast = d.fast(bytes.Clone(data), unsafe.Pointer(&probe))

	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%q: error %v, json.Unmarshal's %v", data, gotErr, wantErr)
	case gotErr != nil && gotErr.Error() != wantErr.Error():
		t.Fatalf("%q: error %q, json.Unmarshal's %q", data, gotErr, wantErr)
	case fast && wantErr != nil:
		t.Fatalf("%q: the fast path accepted what json.Unmarshal refuses: %v", data, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded\n%#v\njson.Unmarshal:\n%#v", data, got, want)
	}
	if fast && !reflect.DeepEqual(probe, want) {
		t.Fatalf("%q: fast path decoded\n%#v\njson.Unmarshal:\n%#v", data, probe, want)
	}
	// DeepEqual takes -0 for 0; their encodings differ.
	gb, gerr := json.Marshal(got)
	wb, werr := json.Marshal(want)
	if (gerr == nil) != (werr == nil) || !bytes.Equal(gb, wb) {
		t.Fatalf("%q: decoded value encodes as %s (%v), json.Unmarshal's as %s (%v)", data, gb, gerr, wb, werr)
	}
	return fast
}

// How a case is decoded: by the fast path alone, with the whole input
// handed to json.Unmarshal, or either.
const (
	jdEither = iota
	jdFast
	jdSlow
)

type jdCase struct {
	name string
	in   string
	path int
}

func jdRun[T any](t *testing.T, cases []jdCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast := jdCompare[T](t, []byte(c.in))
			if c.path == jdFast && !fast {
				t.Errorf("%q: gave up, want it decoded by the fast path", c.in)
			}
			if c.path == jdSlow && fast {
				t.Errorf("%q: decoded by the fast path, want it given up", c.in)
			}
		})
	}
}

// jdTypicalCases are the inputs decoded into typical, by the test and as
// seeds of the fuzz target.
func jdTypicalCases(t testing.TB) []jdCase {
	full := jdMarshal(t, newTypical())
	indented, _ := json.MarshalIndent(newTypical(), "", "\t")
	cases := []jdCase{
		{"marshalled", full, jdFast},
		{"zero", jdMarshal(t, typical{}), jdFast},
		{"empty slices", jdMarshal(t, typical{Roles: []string{}, Cart: []typicalItem{}}), jdFast},
		{"empty object", `{}`, jdFast},
		{"null", `null`, jdFast},
		{"reordered", `{"Theme":"t","Cart":[{"Qty":1,"SKU":"s"}],"UserID":3,"Name":"n","CSRF":"c","Roles":["r"]}`, jdFast},
		{"indented", string(indented), jdFast},
		{"whitespace everywhere", " \t\r\n{ \"UserID\" : 1 , \"Roles\" : [ \"a\" , \"b\" ] , \"Cart\" : [ { } , { \"Qty\" : 2 } ] } \n", jdFast},
		{"unknown keys", `{"Old":1,"Older":"x\"y\\\u00e9","Obj":{"a":[1,2,{"b":null}],"c":true,"":false},"Arr":[[],{}],` +
			`"F":-1.5e+10,"G":0.5E-3,"T":true,"N":null,"S":"\ud83d\ude00\ud800","U":"` + "\xff" + `","UserID":5}`, jdFast},
		{"unknown key twice", `{"Old":1,"Old":2,"UserID":5}`, jdFast},
		{"empty key", `{"":1,"Name":"n"}`, jdFast},
		{"nulls everywhere", `{"UserID":null,"Name":null,"Roles":null,"Cart":[null,{"SKU":null,"Qty":null}],"CSRF":null}`, jdFast},
		{"null elements", `{"Roles":["a",null,"b"]}`, jdFast},

		{"lower-case key", `{"name":"n"}`, jdSlow},
		{"upper-case key", `{"USERID":7}`, jdSlow},
		{"long s key", `{"Cart":[{"\u017fKU":"x"}]}`, jdSlow},
		{"long s key raw", "{\"Cart\":[{\"\u017fKU\":\"x\"}]}", jdSlow},
		{"escaped key", `{"N\u0061me":"n"}`, jdSlow},
		{"non-ASCII unknown key", `{"Näme":"n"}`, jdSlow},
		{"duplicate key", `{"Name":"a","Name":"b"}`, jdSlow},
		{"duplicate slice key", `{"Roles":["a"],"Roles":["b","c"]}`, jdSlow},
		{"duplicate by case", `{"Name":"a","NAME":"b"}`, jdSlow},

		{"trailing garbage", full + "x", jdSlow},
		{"two values", full + " {}", jdSlow},
		{"empty input", ``, jdSlow},
		{"only space", ` `, jdSlow},
		{"array at top", `[]`, jdSlow},
		{"string at top", `"x"`, jdSlow},
		{"trailing comma", `{"Name":"n",}`, jdSlow},
		{"trailing comma in slice", `{"Roles":["a",]}`, jdSlow},
		{"leading comma", `{,"Name":"n"}`, jdSlow},
		{"missing colon", `{"Name" "n"}`, jdSlow},
		{"missing value", `{"Name":}`, jdSlow},
		{"key only", `{"Name"}`, jdSlow},
		{"unquoted key", `{Name:"n"}`, jdSlow},
		{"single quotes", `{'Name':'n'}`, jdSlow},
		{"nul", `{"Roles":nul}`, jdSlow},
		{"nullx", `{"Roles":nullx}`, jdSlow},

		{"invalid skipped array", `{"Old":[1,2,}`, jdSlow},
		{"invalid skipped literal", `{"Old":tru,"Name":"n"}`, jdSlow},
		{"invalid skipped control", "{\"Old\":\"\x01\",\"Name\":\"n\"}", jdSlow},
		{"invalid skipped escape", `{"Old":"\q","Name":"n"}`, jdSlow},
		{"invalid skipped unicode", `{"Old":"\u12G4","Name":"n"}`, jdSlow},
		{"invalid skipped zero", `{"Old":01,"Name":"n"}`, jdSlow},
		{"invalid skipped fraction", `{"Old":1.,"Name":"n"}`, jdSlow},
		{"invalid skipped exponent", `{"Old":1e,"Name":"n"}`, jdSlow},
		{"invalid skipped minus", `{"Old":-,"Name":"n"}`, jdSlow},
		{"invalid skipped point", `{"Old":.5,"Name":"n"}`, jdSlow},
		{"invalid skipped plus", `{"Old":+1,"Name":"n"}`, jdSlow},
		{"invalid skipped object", `{"Old":{"a":1,"b"},"Name":"n"}`, jdSlow},
		{"invalid after a known field", `{"Name":"n","Old":[}`, jdSlow},

		{"int -0", `{"UserID":-0}`, jdFast},
		{"int max", `{"UserID":9223372036854775807}`, jdFast},
		{"int min", `{"UserID":-9223372036854775808}`, jdFast},
		{"int overflow", `{"UserID":9223372036854775808}`, jdSlow},
		{"int underflow", `{"UserID":-9223372036854775809}`, jdSlow},
		{"int many digits", `{"UserID":100000000000000000000000}`, jdSlow},
		{"int 1.0", `{"UserID":1.0}`, jdSlow},
		{"int 1e3", `{"UserID":1e3}`, jdSlow},
		{"int 01", `{"UserID":01}`, jdSlow},
		{"int minus", `{"UserID":-}`, jdSlow},
		{"int string", `{"UserID":"1"}`, jdSlow},
		{"int bool", `{"UserID":true}`, jdSlow},
		{"int object", `{"UserID":{}}`, jdSlow},
		{"string number", `{"Name":1}`, jdSlow},
		{"slice string", `{"Roles":"admin"}`, jdSlow},
		{"slice object", `{"Roles":{}}`, jdSlow},
		{"slice of numbers", `{"Roles":[1]}`, jdSlow},
		{"struct array", `{"Cart":[[]]}`, jdSlow},
		{"error then more", `{"UserID":"x","Name":"n","Roles":["r"]}`, jdSlow},

		{"escapes", `{"Name":"A\"B\\C\/D\b\f\n\r\tE"}`, jdFast},
		{"nul escape", `{"Name":"\u0000"}`, jdFast},
		{"unicode escapes", `{"Name":"\u00e9\u20AC\u003c\u2028"}`, jdFast},
		{"surrogate pair", `{"Name":"\ud83d\ude00"}`, jdFast},
		{"lone high surrogate", `{"Name":"a\ud83db"}`, jdFast},
		{"lone high surrogate at end", `{"Name":"\ud83d"}`, jdFast},
		{"reversed pair", `{"Name":"\ude00\ud83d"}`, jdFast},
		{"high then letter", `{"Name":"\ud83d\u0041"}`, jdFast},
		{"two highs then low", `{"Name":"\ud83d\ud83d\ude00"}`, jdFast},
		{"high then bad escape", `{"Name":"\ud83d\u00zz"}`, jdSlow},
		{"valid UTF-8", "{\"Name\":\"h\u00e9llo \u4e16\u754c \U0001F600\"}", jdFast},
		{"replacement character", "{\"Name\":\"\uFFFD\"}", jdFast},
		{"invalid UTF-8", "{\"Name\":\"a\xffb\xc3\"}", jdFast},
		{"invalid UTF-8 with escapes", "{\"Name\":\"\\n\xff\xfe\\u0041\"}", jdFast},
		{"UTF-8 surrogate", "{\"Name\":\"\xed\xa0\x80\"}", jdFast},
		{"truncated UTF-8 at end", "{\"Name\":\"\xe4\xb8\"}", jdFast},
		{"raw control character", "{\"Name\":\"a\x01\"}", jdSlow},
		{"raw newline", "{\"Name\":\"a\nb\"}", jdSlow},
		{"raw control after escape", "{\"Name\":\"\\n\x1f\"}", jdSlow},
		{"quote escape", `{"Name":"\'"}`, jdSlow},
		{"short unicode escape", `{"Name":"\u12"}`, jdSlow},
		{"unterminated string", `{"Name":"abc`, jdSlow},
		{"unterminated escape", `{"Name":"abc\`, jdSlow},
		{"escaped array strings", `{"Roles":["\"a\"","b\\"],"Cart":[{"SKU":"\u0053"}]}`, jdFast},
	}
	// Every truncation of json.Marshal's output is invalid.
	for i := range len(full) - 1 {
		cases = append(cases, jdCase{fmt.Sprintf("truncated at %d", i), full[:i], jdSlow})
	}
	return cases
}

func TestJSONDecodeTypical(t *testing.T) {
	jdRun[typical](t, jdTypicalCases(t))

	// [] is an empty slice, not nil.
	var v typical
	if err := newJSONDecoder(reflect.TypeFor[typical]()).decode([]byte(`{"Roles":[],"Cart":null}`), unsafe.Pointer(&v)); err != nil {
		t.Fatal(err)
	}
	if v.Roles == nil || len(v.Roles) != 0 || v.Cart != nil {
		t.Fatalf("Roles %#v, Cart %#v: want empty and nil", v.Roles, v.Cart)
	}
}

// jdAllCases are the inputs decoded into jdAll, by the test and as seeds
// of the fuzz target.
func jdAllCases(t testing.TB) []jdCase {
	return []jdCase{
		{"marshalled", jdMarshal(t, newJDAll()), jdFast},
		{"zero", jdMarshal(t, jdAll{}), jdFast},

		{"int8 min", `{"I8":-128}`, jdFast},
		{"int8 overflow", `{"I8":128}`, jdSlow},
		{"int8 underflow", `{"I8":-129}`, jdSlow},
		{"int16 overflow", `{"I16":32768}`, jdSlow},
		{"int32 min", `{"I32":-2147483648}`, jdFast},
		{"int32 underflow", `{"I32":-2147483649}`, jdSlow},
		{"uint8 max", `{"U8":255}`, jdFast},
		{"uint8 overflow", `{"U8":256}`, jdSlow},
		{"uint -0", `{"U8":-0}`, jdSlow},
		{"uint negative", `{"U":-1}`, jdSlow},
		{"uint32 max", `{"U32":4294967295}`, jdFast},
		{"uint32 overflow", `{"U32":4294967296}`, jdSlow},
		{"uint64 19 digits", `{"U64":9999999999999999999}`, jdFast},
		{"uint64 max", `{"U64":18446744073709551615}`, jdSlow},
		{"uint64 overflow", `{"U64":18446744073709551616}`, jdSlow},
		{"uintptr", `{"UP":12345}`, jdFast},
		{"uint fraction", `{"U16":1.5}`, jdSlow},

		{"floats", `{"F32":3.4e38,"F64":1.7976931348623157e308}`, jdFast},
		{"float32 overflow", `{"F32":3.5e38}`, jdSlow},
		{"float64 overflow", `{"F64":1e309}`, jdSlow},
		{"float underflow", `{"F64":1e-400,"F32":1e-50}`, jdFast},
		{"float -0", `{"F64":-0,"F32":-0.0}`, jdFast},
		{"float forms", `{"F64":1.5E+2,"F32":0.1}`, jdFast},
		{"float exponent sign", `{"F64":1e-2}`, jdFast},
		{"float 1.e2", `{"F64":1.e2}`, jdSlow},
		{"float -.5", `{"F64":-.5}`, jdSlow},
		{"float 01.5", `{"F64":01.5}`, jdSlow},
		{"float string", `{"F64":"1"}`, jdSlow},
		{"float nan", `{"F64":NaN}`, jdSlow},

		{"bools", `{"B":true}`, jdFast},
		{"bool false", `{"B":false}`, jdFast},
		{"bool number", `{"B":1}`, jdSlow},
		{"bool string", `{"B":"true"}`, jdSlow},
		{"bool truex", `{"B":truex}`, jdSlow},

		{"tag", `{"tag":"t"}`, jdFast},
		{"Go name of a tagged field", `{"Tagged":"t"}`, jdFast},
		{"tag case", `{"TAG":"t"}`, jdSlow},
		{"skipped field", `{"Skipped":"s","-":"d"}`, jdFast},
		{"unexported field", `{"hidden":"h"}`, jdFast},
		{"kelvin sign", `{"\u212aind":"k"}`, jdSlow},
		{"kelvin sign raw", "{\"\u212aind\":\"k\"}", jdSlow},

		{"pointers", `{"P":1,"PP":"s","PS":{"SKU":"x"}}`, jdFast},
		{"null pointers", `{"P":null,"PP":null,"PS":null}`, jdFast},
		{"pointer to bad", `{"P":"x"}`, jdSlow},

		{"short array", `{"Arr":[1,2]}`, jdFast},
		{"long array", `{"Arr":[1,2,3,4,{"x":[5]}]}`, jdFast},
		{"empty array", `{"Arr":[]}`, jdFast},
		{"null array", `{"Arr":null}`, jdFast},
		{"array with null", `{"Arr":[null,2]}`, jdFast},
		{"bad array element", `{"Arr":[1,"x"]}`, jdSlow},
		{"bad skipped array element", `{"Arr":[1,2,3,tru]}`, jdSlow},
		{"array object", `{"Arr":{}}`, jdSlow},

		{"matrix", `{"Matrix":[[1,2],[],null,[3]]}`, jdFast},
		{"named strings", `{"Roles":["a","b"],"Role":"r"}`, jdFast},
		{"empty structs", `{"Empty":{},"Nones":[{},{"x":1}]}`, jdFast},
		{"empty struct slice", `{"Nones":[]}`, jdFast},
		{"nested", `{"Nested":{"X":1,"Y":["a"]}}`, jdFast},

		{"time", `{"T":"2024-01-02T03:04:05.5+01:00","PT":"2024-01-02T03:04:05Z"}`, jdFast},
		{"time null", `{"T":null,"PT":null}`, jdFast},
		{"bad time", `{"T":"yesterday"}`, jdSlow},
		{"time number", `{"PT":5}`, jdSlow},
		{"unmarshaler", `{"Up":"abc","PUp":"def"}`, jdFast},
		{"unmarshaler null", `{"Up":null,"PUp":null}`, jdFast},
		{"unmarshaler error", `{"Up":5,"S":"s"}`, jdSlow},
		{"unmarshaler escapes", `{"Up":"a\"\u00e9\ud800"}`, jdFast},
		{"text", `{"Txt":"hello"}`, jdFast},
		{"text error", `{"Txt":"!x"}`, jdSlow},
		{"text number", `{"Txt":5}`, jdSlow},
		{"text null", `{"Txt":null}`, jdFast},
		{"map", `{"M":{"a":1,"b":2}}`, jdFast},
		{"map null", `{"M":null}`, jdFast},
		{"map bad value", `{"M":{"a":"x"}}`, jdSlow},
		{"interface", `{"A":{"a":[1,"x",null,true,{}]},"PA":[1]}`, jdFast},
		{"interface null", `{"A":null,"PA":null}`, jdFast},
		{"bytes", `{"Bytes":"aGk="}`, jdFast},
		{"bytes numbers", `{"Bytes":[1,2,255]}`, jdFast},
		{"bytes bad base64", `{"Bytes":"!!"}`, jdSlow},
		{"bytes overflow", `{"Bytes":[256]}`, jdSlow},
		{"bytes null", `{"Bytes":null}`, jdFast},
		{"bytes empty", `{"Bytes":""}`, jdFast},
		{"number", `{"Num":12.5}`, jdFast},
		{"number in a string", `{"Num":"12"}`, jdFast},
		{"not a number", `{"Num":"abc"}`, jdSlow},
		{"raw", `{"Raw":{"x":[1, 2]}}`, jdFast},
		{"raw null", `{"Raw":null}`, jdFast},
		{"embedding", `{"Emb":{"X":1,"Y":2,"jdInner":{"X":3}}}`, jdFast},
		{"embedding case", `{"Emb":{"x":1}}`, jdFast},
	}
}

func TestJSONDecodeKinds(t *testing.T) {
	jdRun[jdAll](t, jdAllCases(t))
}

func TestJSONDecodeOddTypes(t *testing.T) {
	jdRun[jdOdd](t, []jdCase{
		{"nulls", `{"C":null,"Ch":null,"F":null,"S":null}`, jdFast},
		{"complex", `{"C":1}`, jdSlow},
		{"chan", `{"Ch":[]}`, jdSlow},
		{"func", `{"F":{}}`, jdSlow},
		{"non-empty interface", `{"S":"x"}`, jdSlow},
	})
	jdRun[jdFolded](t, []jdCase{
		{"both exact", `{"a":1,"A":2}`, jdFast},
		{"one twice", `{"a":1,"a":2}`, jdSlow},
	})
	jdRun[[]string](t, []jdCase{
		{"slice", `["a","b"]`, jdFast},
		{"empty", `[]`, jdFast},
		{"null", `null`, jdFast},
	})
	jdRun[*typical](t, []jdCase{
		{"pointer", jdMarshal(t, newTypical()), jdFast},
		{"null", `null`, jdFast},
		{"bad", `{"UserID":"x"}`, jdSlow},
	})
	jdRun[[2]typicalItem](t, []jdCase{
		{"array", `[{"SKU":"a"},{"Qty":1},{"Qty":2}]`, jdFast},
	})
	for _, typ := range []reflect.Type{
		reflect.TypeFor[map[string]int](), reflect.TypeFor[any](), reflect.TypeFor[time.Time](),
		reflect.TypeFor[jdEmbeds](), reflect.TypeFor[[]byte](), reflect.TypeFor[jdUpper](),
	} {
		if newJSONDecoder(typ) != nil {
			t.Errorf("a decoder for %v, which it cannot help with", typ)
		}
	}
}

// A struct with more fields than the fast path tracks is left to
// encoding/json, and so is a field of that type.
func TestJSONDecodeWideStruct(t *testing.T) {
	var fields []reflect.StructField
	for i := range jdMaxFields + 1 {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.TypeFor[int]()})
	}
	wide := reflect.StructOf(fields)
	if newJSONDecoder(wide) != nil {
		t.Fatalf("a decoder for %d fields", len(fields))
	}
	outer := reflect.StructOf([]reflect.StructField{
		{Name: "W", Type: wide},
		{Name: "N", Type: reflect.TypeFor[int]()},
	})
	d := newJSONDecoder(outer)
	data := []byte(`{"W":{"F0":1,"F64":2,"f3":3},"N":4}`)
	got, want := reflect.New(outer), reflect.New(outer)
	if !d.fast(data, got.UnsafePointer()) {
		t.Fatal("gave up on a struct with a wide field")
	}
	if err := json.Unmarshal(data, want.Interface()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		t.Fatalf("decoded %+v, json.Unmarshal %+v", got.Elem(), want.Elem())
	}
}

func TestJSONDecodeRecursive(t *testing.T) {
	tree := jdNode{Name: "root", Kids: []jdNode{{Name: "a", Kids: []jdNode{}}, {Name: "b", Next: &jdNode{Name: "c"}}}}
	deep := func(n int) string {
		return strings.Repeat(`{"Next":`, n) + `{"Name":"leaf"}` + strings.Repeat(`}`, n)
	}
	deepKids := func(n int) string {
		return strings.Repeat(`{"Kids":[`, n) + `{}` + strings.Repeat(`]}`, n)
	}
	jdRun[jdNode](t, []jdCase{
		{"tree", jdMarshal(t, tree), jdFast},
		{"10 deep", deep(10), jdFast},
		{"deeper than the fast path goes", deep(100), jdSlow},
		{"deep kids", deepKids(20), jdFast},
		{"deeper kids", deepKids(40), jdSlow},
		{"deep unknown", `{"X":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, jdSlow},
		{"too deep for encoding/json", strings.Repeat("[", 10001) + strings.Repeat("]", 10001), jdSlow},
	})
}

// Plans are built once per type, by whichever goroutine comes first.
func TestJSONDecodeConcurrent(t *testing.T) {
	data := []byte(`{"B":{"A":{"Bs":[{"N":1},{"N":2}]},"N":3},"Bs":[]}`)
	var want jdMutualA
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			d := newJSONDecoder(reflect.TypeFor[jdMutualA]())
			for range 100 {
				var got jdMutualA
				if !d.fast(data, unsafe.Pointer(&got)) || !reflect.DeepEqual(got, want) {
					t.Errorf("decoded %+v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The typical session takes one string, whose substrings its strings
// are, and its two slices.
func TestJSONDecodeAllocs(t *testing.T) {
	data := []byte(jdMarshal(t, newTypical()))
	d := newJSONDecoder(reflect.TypeFor[typical]())
	var v typical
	allocs := testing.AllocsPerRun(100, func() {
		v = typical{}
		if err := d.decode(data, unsafe.Pointer(&v)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Fatalf("%v allocations, want at most 3", allocs)
	}
	if !reflect.DeepEqual(v, newTypical()) {
		t.Fatalf("decoded %+v", v)
	}
}

// BenchmarkJSONDecode decodes into a value outside the loop, as the
// Manager does into a session's, so that neither counts allocating it.
func BenchmarkJSONDecode(b *testing.B) {
	benchJSONDecode(b, []byte(jdMarshal(b, newTypical())))
}

// BenchmarkJSONDecodeOlderShape decodes a session written before a deploy
// removed fields: the keys the type no longer has must be skipped fast.
func BenchmarkJSONDecodeOlderShape(b *testing.B) {
	older := struct {
		typical
		Legacy string
		Prefs  map[string][]int
		Seen   []float64
	}{newTypical(), "a value \u00e9 from an older deploy", map[string][]int{"a": {1, 2, 3}, "b": nil}, []float64{1.5, -2e10}}
	benchJSONDecode(b, []byte(jdMarshal(b, older)))
}

// benchJSONDecode times decoding data into a typical with the compiled
// decoder, which must not give up on it, and with json.Unmarshal.
func benchJSONDecode(b *testing.B, data []byte) {
	b.Run("compiled", func(b *testing.B) {
		d := newJSONDecoder(reflect.TypeFor[typical]())
		var v typical
		b.ReportAllocs()
		for b.Loop() {
			v = typical{}
			if !d.fast(data, unsafe.Pointer(&v)) {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		var v typical
		b.ReportAllocs()
		for b.Loop() {
			v = typical{}
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzJSONDecode(f *testing.F) {
	f.Add([]byte(jdMarshal(f, newTypical())))
	f.Add([]byte(jdMarshal(f, typical{Roles: []string{}})))
	f.Add([]byte(jdMarshal(f, newJDAll())))
	f.Add([]byte(jdMarshal(f, jdNode{Name: "r", Kids: []jdNode{{Name: "k"}}, Next: &jdNode{}})))
	for _, s := range []string{
		`{"Old":{"a":[1,-2.5e3,"\u00e9\"",true,false,null]},"UserID":1}`,
		`{"name":"n","NAME":"m","\u017fKU":1}`,
		`{"Name":"\ud83d\ude00\ud83d\u0041\ude00","Roles":["\\","\/"]}`,
		"{\"Name\":\"\xff\xed\xa0\x80\\n\"}",
		`{"UserID":-9223372036854775808,"I8":-128,"U64":18446744073709551615,"F32":3.4e38}`,
		`{"Arr":[1,2,3,4],"Matrix":[[],null],"PP":"x","T":"2024-01-02T03:04:05Z"}`,
		`{"Up":null,"PUp":null,"Txt":"x","Bytes":"aGk=","Num":"1","M":{"a":1}}`,
		`{"Kids":[{"Kids":[{"Next":{"Name":"x"}}]}]}`,
		" { \"Cart\" : [ { \"SKU\" : \"a\" } ] } ",
	} {
		f.Add([]byte(s))
	}
	for _, c := range append(jdTypicalCases(f), jdAllCases(f)...) {
		if !strings.HasPrefix(c.name, "truncated") {
			f.Add([]byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jdCompare[typical](t, data)
		jdCompare[jdAll](t, data)
		jdCompare[jdNode](t, data)
	})
}

func TestJSONDecodePlainRun(t *testing.T) {
	naive := func(b []byte, i int) int {
		for i < len(b) && jdPlainByte[b[i]] {
			i++
		}
		return i
	}
	special := []byte{'"', '\\', 0, 0x1f, 0x7f, 0x80, 0xff, 'a', ' ', '!', '#', '[', '\\' + 1, '"' - 1}
	b := make([]byte, 40)
	for seed := range 20000 {
		x := uint64(seed)*0x9e3779b97f4a7c15 + 1
		for j := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			if x%5 == 0 {
				b[j] = special[x/5%uint64(len(special))]
			} else {
				b[j] = 'a' + byte(x%26)
			}
		}
		for i := range 10 {
			if got, want := jdPlainRun(b, i), naive(b, i); got != want {
				t.Fatalf("jdPlainRun(%q, %d) = %d, want %d", b, i, got, want)
			}
		}
	}
}
