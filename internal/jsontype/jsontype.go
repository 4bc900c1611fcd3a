// Package jsontype tells, from a Go type alone, whether encoding/json keeps
// every value of it: what a session type must satisfy for its data to
// survive the round trip through the cookie.
package jsontype

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Check returns an error naming the first part of t that encoding/json
// would silently lose or cannot encode, and how to fix it; nil if every
// value of t survives. cookiesession.JSONSerializer.CheckType's doc lists
// the rules, as users read them.
func Check(t reflect.Type) error {
	return checkJSON(t, t.String(), map[reflect.Type]bool{})
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkJSON checks t, reached at path, and what it holds; seen keeps
// recursive types from looping.
func checkJSON(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	if marshalsItself(t) {
		return checkPromoted(t, path)
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

// checkPromoted refuses a struct that encodes itself by a method promoted
// from an embedded field (a time.Time, say) while it has fields of its
// own: encoding/json then writes the embedded value alone, and what the
// other fields hold is lost. A struct with a method of its own beside such
// a field is refused too, as reflect cannot tell the two apart; naming the
// embedded field serves both.
func checkPromoted(t reflect.Type, path string) error {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var embedded reflect.Type
	others := 0
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Tag.Get("json") == "-":
			// An unexported field counts: it is lost as it would be
			// anywhere else, where Check refuses it.
		case f.Anonymous && embedded == nil && marshalsItself(f.Type):
			embedded = f.Type
		default:
			others++
		}
	}
	if embedded != nil && others > 0 {
		return fmt.Errorf("%s embeds %v, whose own encoding encoding/json uses for the whole of %v: its other fields would never be saved; give the embedded field a name", path, embedded, t)
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
	// A map key is never addressable: encoding/json calls MarshalText
	// only if k has it, not *k, and otherwise fails every Marshal of a
	// map that holds a key.
	return k.Implements(textMarshaler)
}
