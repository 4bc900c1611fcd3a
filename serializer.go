package cookiesession

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Serializer turns session data into bytes and back. Implementations must be
// safe for concurrent use, and should write equal values as equal bytes:
// the Manager detects a change by comparing what Marshal writes. Sessions
// should survive deploys: a value written for an older version of the data
// type (a field added or removed) should still decode. JSONSerializer
// does; positional binary encodings do not.
type Serializer interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONSerializer is the default Serializer: encoding/json. Fields added to
// the data type decode as their zero value from older cookies, and fields
// removed are ignored.
type JSONSerializer struct{}

// Marshal implements Serializer with json.Marshal.
func (JSONSerializer) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Serializer with json.Unmarshal.
func (JSONSerializer) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// TypeChecker is implemented by a Serializer that can tell whether it keeps
// every value of a session type: New then refuses a type it would silently
// lose data of. A Serializer that handles every type need not implement it.
type TypeChecker interface {
	// CheckType returns an error that names the part of t that cannot be
	// kept, and how to fix it; nil if every value of t survives.
	CheckType(t reflect.Type) error
}

// CheckType implements TypeChecker for encoding/json: it refuses a pointer
// as the session type (Data is a value, ready for use), unexported struct
// fields not marked json:"-" (encoding/json skips them: what is written
// there is never saved), and channels, functions, complex numbers and map
// keys that JSON cannot hold, at any depth. Types that marshal themselves
// (json.Marshaler, encoding.TextMarshaler, such as time.Time) are trusted.
func (JSONSerializer) CheckType(t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		return fmt.Errorf("the session type %v is a pointer: use %v, which Data then holds as a value", t, t.Elem())
	}
	return checkJSON(t, t.String(), map[reflect.Type]bool{})
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkJSON checks t, reached at path, and what it holds; seen keeps
// recursive types from looping.
func checkJSON(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if seen[t] || marshalsItself(t) {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkJSON(t.Elem(), path+"[]", seen)
	case reflect.Map:
		if k := t.Key(); !jsonMapKey(k) {
			return fmt.Errorf("%s is a map with keys of type %v, which JSON cannot hold: use string or integer keys", path, k)
		}
		return checkJSON(t.Elem(), path+"[key]", seen)
	case reflect.Struct:
		if err := checkJSONNames(t, path); err != nil {
			return err
		}
		return checkJSONFields(t, path, seen)
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("%s is of type %v, which encoding/json cannot encode: keep it out of the session, or tag the field json:\"-\"", path, t)
	}
	return nil
}

// checkJSONFields checks the fields of struct type t.
func checkJSONFields(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("json") == "-" {
			continue
		}
		p := path + "." + f.Name
		if !f.IsExported() {
			// encoding/json promotes the exported fields of an embedded
			// struct, even of an unexported type.
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				if err := checkJSONFields(f.Type, path, seen); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s is unexported, and encoding/json skips it: what is written there would never be saved; export it, or tag it json:\"-\" if it is not session data", p)
		}
		if err := checkJSON(f.Type, p, seen); err != nil {
			return err
		}
	}
	return nil
}

// checkJSONNames refuses two fields of struct type t, its own or promoted
// from embedded structs, that encoding/json would write under one name:
// it writes one of them at most, and what is set in the others is lost.
// So does a struct embedded within itself, whose fields there it skips.
func checkJSONNames(t reflect.Type, path string) error {
	names := map[string]string{}      // JSON name: the field's path
	within := map[reflect.Type]bool{} // the types on the path walked now
	// silent are types walked that write no name: walking one again
	// cannot clash, and would take time exponential in the depth of
	// such embeddings. A type that writes names clashes with itself when
	// reached again, at its first name.
	silent := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string) error
	walk = func(t reflect.Type, path string) error {
		within[t] = true
		defer delete(within, t) // a type embedded twice, side by side, is walked twice
		before := len(names)
		defer func() { silent[t] = len(names) == before }()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			switch {
			case f.Tag.Get("json") == "-":
			case f.Anonymous && name == "" && et.Kind() == reflect.Struct && !marshalsItself(et):
				if within[et] {
					return fmt.Errorf("%s.%s embeds %v within itself, and encoding/json writes none of its fields there: make it a named field", path, f.Name, et)
				}
				if silent[et] {
					continue
				}
				if err := walk(et, path+"."+f.Name); err != nil {
					return err
				}
			case f.IsExported():
				if name == "" {
					name = f.Name
				}
				if other, ok := names[name]; ok {
					return fmt.Errorf("%s and %s are both written as %q, and encoding/json keeps one at most: rename one with a json tag, or tag it json:\"-\"", other, path+"."+f.Name, name)
				}
				names[name] = path + "." + f.Name
			}
		}
		return nil
	}
	return walk(t, path)
}

// marshalsItself reports whether t, or a pointer to it, encodes itself.
func marshalsItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshaler) || pt.Implements(jsonMarshaler) || t.Implements(textMarshaler) || pt.Implements(textMarshaler)
}

// jsonMapKey reports whether encoding/json can use type k for object keys.
func jsonMapKey(k reflect.Type) bool {
	switch k.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return k.Implements(textMarshaler) || reflect.PointerTo(k).Implements(textMarshaler)
}
