package cookiesession

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
)

// The default serializer is encoding/json, and it stays so: sessions must
// survive deploys that add or remove fields, and JSON does. But reflection
// makes json.Marshal and json.Unmarshal the largest cost of sealing and
// opening. So, for the common shapes of session data, the Manager compiles
// a type-specific encoder (jsonencode.go) and decoder (jsondecode.go) that
// produce exactly the bytes, and the values, encoding/json would. Whatever
// they do not know, they hand to encoding/json itself.

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string // the key: the tag's name, or the Go name
	index     int    // in reflect.Type.Field
	offset    uintptr
	typ       reflect.Type
	omitEmpty bool
}

// jsonFields returns the fields encoding/json encodes for struct type t, in
// its order. It reports false for structs whose rules the compiled codecs
// leave to encoding/json: embedded fields (promotion and conflicts),
// duplicate keys, the omitzero and string options, and keys that are not
// plain ASCII words (which encoding/json may escape, or ignore).
func jsonFields(t reflect.Type) ([]jsonField, bool) {
	var fields []jsonField
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := jsonField{name: name, index: i, offset: sf.Offset, typ: sf.Type}
		if f.name == "" {
			f.name = sf.Name
		}
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero", "string":
				return nil, false
			}
		}
		if !plainJSONKey(f.name) || seen[f.name] {
			return nil, false
		}
		seen[f.name] = true
		fields = append(fields, f)
	}
	return fields, true
}

// plainJSONKey reports whether name is made of ASCII letters, digits, '_'
// and '-' only: a key encoding/json writes as it is, and accepts as a tag.
func plainJSONKey(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// jsonRoundTrips reports whether every value of type t decodes from its
// encoding into a value deep-equal to itself, but for strings holding
// invalid UTF-8, which encoding/json replaces: a Manager can then remember
// a copy of the data it sealed rather than decode the data again. It is
// false for whatever encoding/json reshapes or drops: unexported and
// skipped fields, interfaces (numbers come back float64), types that encode
// themselves (time.Time loses its monotonic reading and location), maps,
// byte slices, floats and slices under omitempty (-0 and an empty slice are
// omitted), pointers to pointers or slices (which may point to nil), and
// recursive types.
func jsonRoundTrips(t reflect.Type) bool {
	return jsonRoundTripsIn(t, map[reflect.Type]bool{})
}

var (
	// encoding/json writes a json.Number's literal as a number, and checks
	// a string it stores in one: it is a string only to Go.
	jsonNumberType = reflect.TypeFor[json.Number]()
	// A type (or its pointer) with any of these methods decides its own
	// JSON, and is left to encoding/json.
	jsonSelfEncoding = []reflect.Type{
		reflect.TypeFor[json.Marshaler](),
		reflect.TypeFor[encoding.TextMarshaler](),
	}
	jsonSelfDecoding = []reflect.Type{
		reflect.TypeFor[json.Unmarshaler](),
		reflect.TypeFor[encoding.TextUnmarshaler](),
	}
)

// implementsAny reports whether t or *t implements any of ifaces.
func implementsAny(t reflect.Type, ifaces []reflect.Type) bool {
	for _, i := range ifaces {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

func jsonRoundTripsIn(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		// A recursive type: a value deep enough encodes, but json.Unmarshal
		// refuses it (beyond 10000 levels).
		return false
	}
	if t == jsonNumberType || selfSerialisingType(t) || implementsAny(t, jsonSelfDecoding) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && jsonRoundTripsIn(t.Elem(), visiting)
	case reflect.Array:
		return jsonRoundTripsIn(t.Elem(), visiting)
	case reflect.Pointer:
		// A pointer to a nil pointer or slice encodes as null, and comes
		// back as a nil pointer.
		if k := t.Elem().Kind(); k == reflect.Pointer || k == reflect.Slice {
			return false
		}
		return jsonRoundTripsIn(t.Elem(), visiting)
	case reflect.Struct:
		fields, ok := jsonFields(t)
		if !ok || len(fields) != t.NumField() {
			return false // some field is unexported or skipped
		}
		visiting[t] = true
		defer delete(visiting, t)
		for _, f := range fields {
			k := f.typ.Kind()
			// Under omitempty, -0 and an empty slice are left out, and come
			// back 0 and nil.
			if f.omitEmpty && (k == reflect.Float32 || k == reflect.Float64 || k == reflect.Slice) {
				return false
			}
			if !jsonRoundTripsIn(f.typ, visiting) {
				return false
			}
		}
		return true
	}
	return false
}
