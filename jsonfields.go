package cookiesession

import (
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
