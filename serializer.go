package cookiesession

import (
	"encoding/json"
	"errors"
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

// unquoted is a serializer's error about data it was given, whose message
// is left out: encoding/json's quotes the number it could not store
// ("cannot unmarshal number 4111111111111111 into ..."), and the message
// reaches Session.Err and the log. For encoding/json's type errors the
// field and its type are kept, which is what a developer needs after a
// deploy changed a field, up to a map on the way: from Go 1.27 the path
// holds the map's keys, which are data too. errors.As still finds the
// error.
type unquoted struct {
	err error
	t   reflect.Type // what the data was decoded into
}

func (u unquoted) Error() string {
	var te *json.UnmarshalTypeError
	if !errors.As(u.err, &te) || te.Type == nil {
		return fmt.Sprintf("%T (its message is left out: it may quote the session's data)", u.err)
	}
	switch path, whole := jsontype.FieldPath(u.t, te.Field); {
	case whole:
		return fmt.Sprintf("json: a value does not fit field %q of type %v (the value is left out: it is the session's data)", path, te.Type)
	case path != "":
		return fmt.Sprintf("json: a value does not fit a field of type %v under %q (the value, and a map's key on the way, are left out: they are the session's data)", te.Type, path)
	}
	return fmt.Sprintf("json: a value does not fit a field of type %v (the value, and a map's key on the way, are left out: they are the session's data)", te.Type)
}

func (u unquoted) Unwrap() error { return u.err }
