package cookiesession

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/ce967478/cookiesession/internal/jsontype"
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
// there is never saved), two fields written under one JSON name (it keeps
// one at most) or a struct embedded within itself, and channels,
// functions, complex numbers and map keys that JSON cannot hold, at any
// depth. Types that marshal themselves (json.Marshaler,
// encoding.TextMarshaler, such as time.Time) are trusted, but for a struct
// that has the method from an embedded field beside fields of its own:
// struct{ time.Time; Name string } encodes as the time alone. A method
// with a pointer receiver (big.Int's) is trusted but in a map's values,
// which are not addressable: encoding/json writes their fields instead,
// so map[string]big.Int is refused, and map[string]*big.Int accepted.
func (JSONSerializer) CheckType(t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		return fmt.Errorf("the session type %v is a pointer: use %v, which Data then holds as a value", t, t.Elem())
	}
	return jsontype.Check(t)
}
