package dbsc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// encoding/json alone is too lenient for signed input: a duplicate member
// silently wins over the first, and struct fields match names without
// regard to case ("ALG" fills Alg). A JWT whose header says one thing to
// this parser and another to the next one is how signature checks get
// bypassed, so JSON objects are read member by member here: exact names,
// each name once, the members we use of the type we expect, and nothing
// after the object. Members we do not use are skipped but must still be
// well-formed JSON, since browsers may add some (older Chromium put aud,
// iat and key in the payload).

// kind is the JSON type a member must have.
type kind uint8

const (
	kindString kind = iota + 1
	kindObject
)

// jsonErrors are what readObject returns, so that a proof and a key each
// refuse with their own sentinels.
type jsonErrors struct {
	syntax, duplicate, wrongType error
}

// object is what readObject found of the members it was asked for.
type object struct {
	strings map[string]string
	objects map[string]json.RawMessage
	seen    map[string]bool // every member's name, wanted or not
}

// readObject decodes data as exactly one JSON object. Each member named in
// want must have the given kind, and is returned; others are skipped.
func readObject(data []byte, want map[string]kind, errs jsonErrors) (object, error) {
	out := object{strings: map[string]string{}, objects: map[string]json.RawMessage{}, seen: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return out, errs.syntax
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out, errs.syntax
		}
		name, _ := tok.(string) // the decoder only gives strings as names
		if out.seen[name] {
			return out, errs.duplicate
		}
		out.seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, errs.syntax
		}
		if err := out.keep(name, bytes.TrimLeft(raw, " \t\r\n"), want[name], errs); err != nil {
			return out, err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return out, errs.syntax
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return out, errs.syntax
	}
	return out, nil
}

// keep records one member's value if it is wanted and of the right kind.
func (o object) keep(name string, raw json.RawMessage, k kind, errs jsonErrors) error {
	switch k {
	case kindString:
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return errs.wrongType
		}
		o.strings[name] = s
	case kindObject:
		if len(raw) == 0 || raw[0] != '{' {
			return errs.wrongType
		}
		o.objects[name] = raw
	}
	return nil
}
