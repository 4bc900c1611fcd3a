package redisstore

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ce967478/cookiesession"
)

// How one revocation is written in Redis. A member of the sorted set is
//
//	i|<32 hex digits of the id>|<At in Unix seconds>   a session's entry
//	s|<At in Unix seconds>|<subject>                   a subject's entry
//
// and its score is Until in Unix seconds. The subject comes last so that it
// may hold any byte, "|" included. At is part of the member, so two
// revocations of one session (Renew's, then Destroy's) are two members;
// the replica merges them as Revocations.Add does. A message on the events
// channel is "<Until>|<member>".

// unix is t in whole Unix seconds, rounded up and clamped as
// cookiesession.Revocations stores times, so that what Redis holds and what
// the replica holds compare equal.
func unix(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() != 0 {
		sec++
	}
	return min(max(sec, 0), math.MaxUint32)
}

// encodeMember returns r's member of the sorted set.
func encodeMember(r cookiesession.Revocation) string {
	at := strconv.FormatInt(unix(r.At), 10)
	if r.Subject != "" {
		return "s|" + at + "|" + r.Subject
	}
	return "i|" + r.ID.String() + "|" + at
}

// decodeMember is the inverse of encodeMember, with until the member's
// score in Unix seconds. It reports false for anything else.
func decodeMember(member string, until int64) (cookiesession.Revocation, bool) {
	var r cookiesession.Revocation
	if until < 0 || until > math.MaxUint32 {
		return r, false
	}
	r.Until = time.Unix(until, 0)
	kind, rest, ok := strings.Cut(member, "|")
	if !ok {
		return r, false
	}
	var at string
	switch kind {
	case "i":
		var id string
		if id, at, ok = strings.Cut(rest, "|"); !ok || len(id) != 2*len(r.ID) {
			return r, false
		}
		if _, err := hex.Decode(r.ID[:], []byte(id)); err != nil {
			return r, false
		}
	case "s":
		if at, r.Subject, ok = strings.Cut(rest, "|"); !ok || r.Subject == "" {
			return r, false
		}
	default:
		return r, false
	}
	sec, err := strconv.ParseInt(at, 10, 64)
	if err != nil || sec < 0 || sec > math.MaxUint32 {
		return r, false
	}
	r.At = time.Unix(sec, 0)
	return r, true
}

// encodeMessage returns the message that announces member, expiring at
// until, on the events channel.
func encodeMessage(member string, until int64) string {
	return strconv.FormatInt(until, 10) + "|" + member
}

// decodeMessage is the inverse of encodeMessage.
func decodeMessage(msg string) (cookiesession.Revocation, bool) {
	until, member, ok := strings.Cut(msg, "|")
	if !ok {
		return cookiesession.Revocation{}, false
	}
	sec, err := strconv.ParseInt(until, 10, 64)
	if err != nil {
		return cookiesession.Revocation{}, false
	}
	return decodeMember(member, sec)
}

// encodeBatch joins messages into one, a JSON array of them: a single
// message starts with a digit, a batch with "[".
func encodeBatch(msgs []string) string {
	b, _ := json.Marshal(msgs) // strings always encode
	return string(b)
}

// decodeBatch is the inverse of encodeBatch; ok is false for a payload
// that is not a batch.
func decodeBatch(payload string) (msgs []string, ok bool) {
	if !strings.HasPrefix(payload, "[") {
		return nil, false
	}
	return msgs, json.Unmarshal([]byte(payload), &msgs) == nil
}
