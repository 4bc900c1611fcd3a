package redisstore

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/ce967478/cookiesession/revocation"
)

// What the store writes in Redis, and sends on its channel. Everything
// revoked of one subject is one revocation.Revoked, in its own binary
// form; this file only frames it.
//
// The hash <Prefix>:revocations holds
//
//	epoch        <32 hex digits>:<Redis time in ms when it was created>
//	s:<subject>  the subject's Revoked, binary
//
// and a message on <Prefix>:events:<db> is a batch of subjects:
//
//	version(1) { uvarint(len(subject)) | subject | uvarint(len(revoked)) | revoked }
//
// A Revoke sends a batch of one; a write-back sends up to writeBatch.

const (
	epochField    = "epoch"
	subjectPrefix = "s:"
	// messageVersion starts every message, so that a later format can be
	// told apart by the instances of a fleet being upgraded.
	messageVersion = 1
)

var errMessageFormat = errors.New("redisstore: not a revocations message")

// subjectField is the hash field that holds subject's Revoked.
func subjectField(subject string) string { return subjectPrefix + subject }

// fieldSubject is the inverse of subjectField; ok is false for the epoch
// or any other field.
func fieldSubject(field string) (subject string, ok bool) {
	subject, ok = strings.CutPrefix(field, subjectPrefix)
	return subject, ok && subject != ""
}

// encodeRevoked returns r in binary form, "" when it revokes nothing: the
// value the script deletes the field for.
func encodeRevoked(r revocation.Revoked) string {
	if r.IsZero() {
		return ""
	}
	b, _ := r.MarshalBinary() // never fails
	return string(b)
}

// decodeRevoked is the inverse of encodeRevoked.
func decodeRevoked(v string) (revocation.Revoked, error) {
	var r revocation.Revoked
	if v == "" {
		return r, nil
	}
	err := r.UnmarshalBinary([]byte(v))
	return r, err
}

// entry is one subject's state in a message.
type entry struct {
	subject string
	revoked revocation.Revoked
}

// messageWriter builds one message.
type messageWriter struct {
	b []byte
	n int
}

// add appends subject's state; value is r in binary form.
func (m *messageWriter) add(subject, value string) {
	if m.b == nil {
		m.b = append(m.b, messageVersion)
	}
	m.b = binary.AppendUvarint(m.b, uint64(len(subject)))
	m.b = append(m.b, subject...)
	m.b = binary.AppendUvarint(m.b, uint64(len(value)))
	m.b = append(m.b, value...)
	m.n++
}

func (m *messageWriter) String() string { return string(m.b) }

// encodeMessage returns the message that announces one subject's state.
func encodeMessage(subject, value string) string {
	var m messageWriter
	m.add(subject, value)
	return m.String()
}

// decodeMessage returns the entries of a message. It refuses the whole
// message if any part is malformed: a sender of a format this version
// does not know is better reported than half applied.
func decodeMessage(msg string) ([]entry, error) {
	if len(msg) == 0 || msg[0] != messageVersion {
		return nil, errMessageFormat
	}
	p := msg[1:]
	next := func() (string, bool) {
		n, k := binary.Uvarint([]byte(p[:min(len(p), binary.MaxVarintLen64)]))
		if k <= 0 || n > uint64(len(p)-k) {
			return "", false
		}
		s := p[k : k+int(n)]
		p = p[k+int(n):]
		return s, true
	}
	var out []entry
	for len(p) > 0 {
		subject, ok1 := next()
		value, ok2 := next()
		if !ok1 || !ok2 || subject == "" {
			return nil, errMessageFormat
		}
		r, err := decodeRevoked(value)
		if err != nil {
			return nil, err
		}
		out = append(out, entry{subject, r})
	}
	return out, nil
}
