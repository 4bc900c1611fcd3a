// Package jsontype tells, from a Go type alone, whether encoding/json keeps
// every value of it: what a session type must satisfy for its data to
// survive the round trip through the cookie. FieldPath tells which part of
// a decode error's path names the type's fields, and which is data.
package jsontype

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Check returns an error naming the first part of t that encoding/json
// would silently lose or cannot encode, and how to fix it; nil if every
// value of t survives. cookiesession.JSONSerializer.CheckType's doc lists
// the rules, as users read them.
func Check(t reflect.Type) error {
	// The session's data is marshalled through a pointer to it, so it is
	// addressable.
	return checkJSON(t, t.String(), true, map[visit]bool{})
}

// visit is a type reached, and whether its values are addressable there:
// a type fine in one place can lose data in the other.
type visit struct {
	t           reflect.Type
	addressable bool
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkJSON checks t, reached at path, and what it holds; addressable
// tells whether its values are addressable there, which encoding/json
// needs to call a method with a pointer receiver; seen keeps recursive
// types from looping.
func checkJSON(t reflect.Type, path string, addressable bool, seen map[visit]bool) error {
	v := visit{t, addressable}
	if seen[v] {
		return nil
	}
	if marshalsItself(t, addressable) {
		return checkPromoted(t, path)
	}
	if marshalsItself(t, true) {
		return fmt.Errorf("%s is of type %v, whose encoding method has a pointer receiver, which encoding/json cannot call on a value held in a map: it would write the fields instead, and lose the value; make the map's values pointers (*%v)", path, t, t)
	}
	seen[v] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return checkJSON(t.Elem(), path+"[]", true, seen)
	case reflect.Array:
		return checkJSON(t.Elem(), path+"[]", addressable, seen)
	case reflect.Map:
		if k := t.Key(); !jsonMapKey(k) {
			return fmt.Errorf("%s is a map with keys of type %v, which JSON cannot hold: use string or integer keys", path, k)
		}
		return checkJSON(t.Elem(), path+"[key]", false, seen)
	case reflect.Struct:
		if err := checkJSONNames(t, path); err != nil {
			return err
		}
		return checkJSONFields(t, path, addressable, seen)
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
		case f.Anonymous && embedded == nil && marshalsItself(f.Type, true):
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

// checkJSONFields checks the fields of struct type t, whose values are
// addressable or not.
func checkJSONFields(t reflect.Type, path string, addressable bool, seen map[visit]bool) error {
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
				if err := checkJSONFields(f.Type, path, addressable, seen); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s is unexported, and encoding/json skips it: what is written there would never be saved; export it, or tag it json:\"-\" if it is not session data", p)
		}
		if err := checkJSON(f.Type, p, addressable, seen); err != nil {
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
			case f.Anonymous && name == "" && et.Kind() == reflect.Struct && !marshalsItself(et, true):
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

// marshalsItself reports whether t encodes itself, or a pointer to it
// does and its values are addressable, so that encoding/json can call a
// pointer method.
func marshalsItself(t reflect.Type, addressable bool) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	pt := reflect.PointerTo(t)
	return addressable && (pt.Implements(jsonMarshaler) || pt.Implements(textMarshaler))
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

// FieldPath returns the leading part of path (a json.UnmarshalTypeError's
// Field: JSON names, and from Go 1.27 indexes and map keys, joined by
// dots) that names struct fields and indexes of t, and whether that is
// all of it. It stops at anything else, such as a map's key.
func FieldPath(t reflect.Type, path string) (string, bool) {
	var kept []string
	for _, seg := range strings.Split(path, ".") {
		t = elem(t, reflect.Pointer)
		if k := t.Kind(); k == reflect.Slice || k == reflect.Array {
			t = t.Elem()
			if _, err := strconv.ParseUint(seg, 10, 0); err == nil {
				kept = append(kept, seg) // an index, as Go 1.27 names it
				continue
			}
			t = elem(t, reflect.Pointer)
		}
		f, ok := jsonField(t, seg)
		if !ok {
			return strings.Join(kept, "."), false
		}
		kept, t = append(kept, seg), f.Type
	}
	return strings.Join(kept, "."), true
}

// elem returns t, or what it points to, for as long as it is of kind k.
func elem(t reflect.Type, k reflect.Kind) reflect.Type {
	for t.Kind() == k {
		t = t.Elem()
	}
	return t
}

// jsonField returns the field of struct type t, promoted ones and
// embedded structs included, whose JSON name is name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct || name == "" {
		return reflect.StructField{}, false
	}
	for _, f := range reflect.VisibleFields(t) {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if (f.IsExported() || f.Anonymous) && (tag == name || tag == "" && f.Name == name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
