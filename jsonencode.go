package cookiesession

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// The compiled encoder writes what json.Marshal writes, only sooner: each
// type gets a plan, built once, that walks values by offset (as snapshot.go
// does) and appends their JSON with strconv and a copy of encoding/json's
// string escaping. Whatever the plan does not know, it hands to
// encoding/json, and at two grains:
//
//   - per value: a value that decides its own form (json.Marshaler,
//     encoding.TextMarshaler, json.Number), a map, a non-nil interface, a
//     []byte (base64), or a struct whose fields jsonFields leaves to
//     encoding/json, is written by json.Marshal of a pointer to it. The
//     pointer keeps it addressable, as it is inside the whole value, so
//     pointer-receiver methods are called exactly when encoding/json would
//     call them.
//   - per call: anything json.Marshal would fail on (NaN, an unsupported
//     type, a failing MarshalJSON) or nesting deeper than maxJSONEncDepth
//     (a cycle, say) discards the output and returns json.Marshal of the
//     whole value. Its errors, and the bytes of deep values, are then
//     encoding/json's own, without our having to reproduce them.
//
// A value that succeeds therefore has one possible encoding, and a value
// that fails has json.Marshal's error.

// maxJSONEncDepth bounds the walk. encoding/json starts looking for cycles
// only after 1000 levels; deep values are rare in sessions, so past this
// depth the plan gives up and lets encoding/json decide.
const maxJSONEncDepth = 64

var (
	// jsonEncPlans caches a plan per type.
	jsonEncPlans sync.Map // reflect.Type -> *jsonEncPlan
	// jsonEncMu serialises plan building, so that a recursive type's plan
	// is complete before anyone else can see it.
	jsonEncMu sync.Mutex
)

// jsonEncOp is how a plan writes its values.
type jsonEncOp uint8

const (
	encFallback       jsonEncOp = iota // json.Marshal of the value
	encFail                            // json.Marshal fails: chan, func, complex, unsafe.Pointer
	encNullOrFallback                  // maps and interfaces: null when nil
	encBool
	encInt // signed, size bytes
	encUint
	encFloat // size*8 bits
	encString
	encStruct
	encSlice
	encArray
	encPointer
)

// jsonEncPlan writes values of one type through pointers to them.
type jsonEncPlan struct {
	t    reflect.Type
	op   jsonEncOp
	kind reflect.Kind // for omitempty, whatever op is
	size uintptr      // scalars: of the value; slices and arrays: of an element
	n    int          // arrays: the length
	elem *jsonEncPlan // slices, arrays and pointers
	// fields of a struct, with their keys written out.
	fields []jsonEncField
}

type jsonEncField struct {
	key       jsonEncLit // ,"name":
	off       uintptr
	omitEmpty bool
	p         *jsonEncPlan
}

// jsonEncoder encodes values of one type exactly as json.Marshal does.
type jsonEncoder struct {
	t reflect.Type
	p *jsonEncPlan
}

// newJSONEncoder returns the encoder for values of type t, or nil when the
// compiled encoder cannot help at all for t (json.Marshal is then used
// directly).
func newJSONEncoder(t reflect.Type) *jsonEncoder {
	p := jsonEncPlanFor(t)
	switch p.op {
	case encFallback, encFail, encNullOrFallback:
		return nil
	}
	return &jsonEncoder{t: t, p: p}
}

// appendJSON appends to dst the encoding of the value of type t at p: the
// same bytes as json.Marshal(reflect.NewAt(t, p).Interface()) appended to
// dst, and, when json.Marshal fails, exactly its error (dst is then
// returned as it came). Short keys and strings are written as whole words
// into spare capacity, so dst is not reallocated when it has room for the
// encoding and 16 bytes more; bytes past the returned length may change.
func (e *jsonEncoder) appendJSON(dst []byte, p unsafe.Pointer) ([]byte, error) {
	// 1. Walk the plan. It writes only past len(dst), so dst itself is
	//    intact whatever happens.
	if b, ok := e.p.encode(dst, p, 0); ok {
		return b, nil
	}

	// 2. Something only encoding/json knows how to answer: ask it about the
	//    whole value, so that the bytes, or the error, are its own.
	b, err := json.Marshal(reflect.NewAt(e.t, p).Interface())
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func jsonEncPlanFor(t reflect.Type) *jsonEncPlan {
	if p, ok := jsonEncPlans.Load(t); ok {
		return p.(*jsonEncPlan)
	}
	jsonEncMu.Lock()
	defer jsonEncMu.Unlock()
	if p, ok := jsonEncPlans.Load(t); ok {
		return p.(*jsonEncPlan)
	}
	building := map[reflect.Type]*jsonEncPlan{}
	p := buildJSONEncPlan(t, building)
	// Every plan built along the way is complete now, recursive ones too.
	for bt, bp := range building {
		jsonEncPlans.Store(bt, bp)
	}
	return p
}

func jsonSelfEncodingType(t reflect.Type) bool {
	return t == jsonNumberType || implementsAny(t, jsonSelfEncoding)
}

func buildJSONEncPlan(t reflect.Type, building map[reflect.Type]*jsonEncPlan) *jsonEncPlan {
	if p, ok := building[t]; ok {
		return p // recursive type: filled in where the recursion started
	}
	if p, ok := jsonEncPlans.Load(t); ok {
		return p.(*jsonEncPlan)
	}
	p := &jsonEncPlan{t: t, kind: t.Kind(), size: t.Size()}
	building[t] = p
	if jsonSelfEncodingType(t) {
		return p // encFallback
	}
	switch k := t.Kind(); k {
	case reflect.Bool:
		p.op = encBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.op = encInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.op = encUint
	case reflect.Float32, reflect.Float64:
		p.op = encFloat
	case reflect.String:
		p.op = encString
	case reflect.Struct:
		fields, ok := jsonFields(t)
		if !ok {
			return p // encFallback
		}
		p.op = encStruct
		for _, f := range fields {
			p.fields = append(p.fields, jsonEncField{
				key:       newJSONEncLit(`,"` + f.name + `":`),
				off:       f.offset,
				omitEmpty: f.omitEmpty,
				p:         buildJSONEncPlan(f.typ, building),
			})
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return p // base64, or a Marshaler per element: encFallback
		}
		p.op, p.size, p.elem = encSlice, t.Elem().Size(), buildJSONEncPlan(t.Elem(), building)
	case reflect.Array:
		p.op, p.size, p.n, p.elem = encArray, t.Elem().Size(), t.Len(), buildJSONEncPlan(t.Elem(), building)
	case reflect.Pointer:
		p.op, p.elem = encPointer, buildJSONEncPlan(t.Elem(), building)
	case reflect.Map, reflect.Interface:
		p.op = encNullOrFallback
	default: // chan, func, complex, unsafe pointer
		p.op = encFail
	}
	return p
}

// encode appends the value at v. It reports false when only encoding/json
// can answer for the whole value (see appendJSON).
func (p *jsonEncPlan) encode(dst []byte, v unsafe.Pointer, depth int) ([]byte, bool) {
	switch p.op {
	case encString:
		return appendJSONString(dst, *(*string)(v)), true
	case encInt:
		return strconv.AppendInt(dst, loadInt(v, p.size), 10), true
	case encUint:
		return strconv.AppendUint(dst, loadUint(v, p.size), 10), true
	case encBool:
		if *(*bool)(v) {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case encFloat:
		if p.size == 4 {
			return appendJSONFloat(dst, float64(*(*float32)(v)), 32)
		}
		return appendJSONFloat(dst, *(*float64)(v), 64)
	case encStruct:
		return p.encodeStruct(dst, v, depth)
	case encSlice:
		s := (*sliceHeader)(v)
		if s.data == nil {
			return append(dst, "null"...), true
		}
		return p.encodeElems(dst, s.data, s.len, depth)
	case encArray:
		return p.encodeElems(dst, v, p.n, depth)
	case encPointer:
		e := *(*unsafe.Pointer)(v)
		if e == nil {
			return append(dst, "null"...), true
		}
		if depth > maxJSONEncDepth {
			return dst, false
		}
		return p.elem.encode(dst, e, depth+1)
	case encNullOrFallback:
		// A map, or an interface's type word: nil for nil ones.
		if *(*unsafe.Pointer)(v) == nil {
			return append(dst, "null"...), true
		}
	case encFail:
		return dst, false
	}
	b, err := json.Marshal(reflect.NewAt(p.t, v).Interface())
	if err != nil {
		return dst, false
	}
	return append(dst, b...), true
}

// encodeStruct appends the struct at v. Strings and integers, most of a
// session, are written in place, without a call through encode.
func (p *jsonEncPlan) encodeStruct(dst []byte, v unsafe.Pointer, depth int) ([]byte, bool) {
	if depth > maxJSONEncDepth {
		return dst, false
	}
	// Every key comes with a leading comma; the first one becomes the '{'.
	start := len(dst)
	for i := range p.fields {
		f := &p.fields[i]
		fv := unsafe.Add(v, f.off)
		if f.omitEmpty && f.p.empty(fv) {
			continue
		}
		switch f.p.op {
		case encString:
			dst = appendJSONStringAfter(dst, &f.key, *(*string)(fv))
		case encInt:
			dst = strconv.AppendInt(appendJSONLit(dst, &f.key), loadInt(fv, f.p.size), 10)
		default:
			dst = appendJSONLit(dst, &f.key)
			var ok bool
			if dst, ok = f.p.encode(dst, fv, depth+1); !ok {
				return dst, false
			}
		}
	}
	if len(dst) == start {
		return append(dst, "{}"...), true
	}
	dst[start] = '{'
	return append(dst, '}'), true
}

// encodeElems appends the n elements of a slice or array starting at v.
func (p *jsonEncPlan) encodeElems(dst []byte, v unsafe.Pointer, n int, depth int) ([]byte, bool) {
	if depth > maxJSONEncDepth {
		return dst, false
	}
	if n == 0 {
		return append(dst, "[]"...), true
	}
	switch p.elem.op {
	case encString:
		pre := &jsonEncOpen
		for i := range n {
			dst = appendJSONStringAfter(dst, pre, *(*string)(unsafe.Add(v, uintptr(i)*p.size)))
			pre = &jsonEncComma
		}
		return append(dst, ']'), true
	}
	dst = append(dst, '[')
	switch p.elem.op {
	case encStruct:
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = p.elem.encodeStruct(dst, unsafe.Add(v, uintptr(i)*p.size), depth+1); !ok {
				return dst, false
			}
		}
	default:
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = p.elem.encode(dst, unsafe.Add(v, uintptr(i)*p.size), depth+1); !ok {
				return dst, false
			}
		}
	}
	return append(dst, ']'), true
}

// empty is encoding/json's isEmptyValue: it goes by kind alone, even for
// types that encode themselves.
func (p *jsonEncPlan) empty(v unsafe.Pointer) bool {
	switch p.kind {
	case reflect.Bool:
		return !*(*bool)(v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return loadInt(v, p.t.Size()) == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return loadUint(v, p.t.Size()) == 0
	case reflect.Float32:
		return *(*float32)(v) == 0 // -0 too, as in reflect.Value.IsZero
	case reflect.Float64:
		return *(*float64)(v) == 0
	case reflect.String:
		return len(*(*string)(v)) == 0
	case reflect.Slice:
		return (*sliceHeader)(v).len == 0
	case reflect.Array:
		return p.t.Len() == 0
	case reflect.Pointer, reflect.Interface:
		// A pointer, or an interface's type word.
		return *(*unsafe.Pointer)(v) == nil
	case reflect.Map:
		return *(*unsafe.Pointer)(v) == nil || reflect.NewAt(p.t, v).Elem().Len() == 0
	}
	return false // structs, and the kinds encoding/json refuses
}

func loadInt(v unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(v))
	case 2:
		return int64(*(*int16)(v))
	case 4:
		return int64(*(*int32)(v))
	}
	return *(*int64)(v)
}

func loadUint(v unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(v))
	case 2:
		return uint64(*(*uint16)(v))
	case 4:
		return uint64(*(*uint32)(v))
	}
	return *(*uint64)(v)
}

// appendJSONFloat is encoding/json's floatEncoder: ES6 number formatting,
// with the cutoffs tested at the float's own size. NaN and infinities
// report false: json.Marshal fails on them.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9; an 'e' number has at least 4 bytes of its own.
		n := len(dst)
		if dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// jsonEncSafe holds the bytes json.Marshal writes as they are, in a string
// of valid UTF-8: it escapes control characters, the quote and backslash,
// and (for HTML) '<', '>' and '&'. Bytes from 0x80 on start a multi-byte
// sequence, which needs looking at.
var jsonEncSafe = func() (safe [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

const jsonEncHex = "0123456789abcdef"

// jsonReplacement is what json.Marshal writes, inside a string, for a byte
// that is not valid UTF-8: U+FFFD escaped as \ufffd up to Go 1.26, and the
// character itself from Go 1.27, whose encoding/json runs on json/v2 (and
// with GOEXPERIMENT=jsonv2 before that). Asking encoding/json once keeps
// the compiled encoder byte for byte equal to the one in use, whichever it
// is. Both forms read back as U+FFFD.
var jsonReplacement = func() string {
	b, err := json.Marshal("\xff")
	if err != nil || len(b) < 2 {
		return `\ufffd` // cannot happen: Marshal of a string does not fail
	}
	return string(b[1 : len(b)-1])
}()

// appendJSONShortString is appendJSONStringAfter for a pre and an s of at
// most 16 bytes each, when s needs no escaping (it reports false if it
// does). It reads s as at most two words, overlapping if need be (three
// bytes, for the shortest strings), checks them with jsonEncSafeWord, and
// writes them back as they are: no loop, and no call to memmove.
func appendJSONShortString(dst []byte, pre *jsonEncLit, s string) ([]byte, bool) {
	const pad = 0x6161616161000000 // 'a's: safe, in the bytes a short s leaves free
	k := len(s)
	b := unsafe.Slice(unsafe.StringData(s), k)
	var x0, x1 uint64
	switch {
	case k >= 8:
		x0, x1 = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[k-8:])
		if !jsonEncSafeWord(x0) || !jsonEncSafeWord(x1) {
			return dst, false
		}
	case k >= 4:
		x0, x1 = uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[k-4:]))
		if !jsonEncSafeWord(x0 | x1<<32) {
			return dst, false
		}
	case k > 0:
		// s[0], s[k/2] and s[k-1] are all of s.
		x0 = uint64(b[0]) | uint64(b[k/2])<<8 | uint64(b[k-1])<<16
		if !jsonEncSafeWord(x0 | pad) {
			return dst, false
		}
	}
	// Spare capacity of 16 bytes past the end, for the whole words.
	m, n := len(pre.s), len(dst)
	need := m + k + 2
	if cap(dst)-n < need+16 {
		dst = slices.Grow(dst, need+16)
	}
	out := dst[n : n+need+16]
	binary.LittleEndian.PutUint64(out, pre.w0)
	binary.LittleEndian.PutUint64(out[8:], pre.w1)
	out[m] = '"'
	q := out[m+1:]
	switch {
	case k >= 8:
		binary.LittleEndian.PutUint64(q, x0)
		binary.LittleEndian.PutUint64(q[k-8:], x1)
	case k >= 4:
		binary.LittleEndian.PutUint32(q, uint32(x0))
		binary.LittleEndian.PutUint32(q[k-4:], uint32(x1))
	case k > 0:
		q[0], q[k/2], q[k-1] = byte(x0), byte(x0>>8), byte(x0>>16)
	}
	q[k] = '"'
	return dst[:n+need], true
}

// jsonEncSafePrefix returns the length of a prefix of s made of bytes in
// jsonEncSafe (not necessarily the longest), read eight bytes at a time.
func jsonEncSafePrefix(s string) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if !jsonEncSafeWord(binary.LittleEndian.Uint64(b[i:])) {
			return i
		}
	}
	// The last word overlaps the one before: no byte loop for the tail.
	if i < len(b) && len(b) >= 8 && jsonEncSafeWord(binary.LittleEndian.Uint64(b[len(b)-8:])) {
		return len(b)
	}
	return i
}

// jsonEncSafeWord reports whether the eight bytes of x are all in
// jsonEncSafe.
func jsonEncSafeWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// For a byte below 0x80, adding 0x80-n sets its high bit exactly when
	// it is at least n, and carries nothing into the next byte; a byte
	// from 0x80 on fails the last test (&^ x) whatever its neighbours do.
	// A byte is not c when b^c is at least 1. '"' (0x22) and '&' (0x26),
	// and '<' (0x3c) and '>' (0x3e), differ in one bit each.
	ctl := x + 0x60*ones                          // at least ' '
	qa := (x | 0x04*ones ^ 0x26*ones) + 0x7f*ones // not '"' nor '&'
	lg := (x | 0x02*ones ^ 0x3e*ones) + 0x7f*ones // not '<' nor '>'
	bs := (x ^ 0x5c*ones) + 0x7f*ones             // not '\\'
	return ctl&qa&lg&bs&^x&highs == highs
}

// appendJSONString is encoding/json's appendString with HTML escaping on,
// as json.Marshal uses it.
func appendJSONString(dst []byte, s string) []byte {
	return appendJSONStringAfter(dst, &jsonEncNothing, s)
}

// jsonEncLit is a constant run of bytes (a key, a comma), with its first
// 16 bytes also as two words. A session is mostly short keys and short
// strings, where a call to memmove costs more than the copy: those are
// written as words into spare capacity instead.
type jsonEncLit struct {
	s      string
	w0, w1 uint64
}

var (
	jsonEncNothing = newJSONEncLit("")
	jsonEncOpen    = newJSONEncLit("[")
	jsonEncComma   = newJSONEncLit(",")
)

func newJSONEncLit(s string) jsonEncLit {
	var b [16]byte
	copy(b[:], s)
	return jsonEncLit{s, binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:])}
}

// appendJSONLit appends l.s.
func appendJSONLit(dst []byte, l *jsonEncLit) []byte {
	n := len(dst)
	if len(l.s) <= 16 && cap(dst)-n >= 16 {
		// 16 bytes, of which those past l.s are rewritten or left past
		// len(dst).
		b := dst[n : n+16]
		binary.LittleEndian.PutUint64(b, l.w0)
		binary.LittleEndian.PutUint64(b[8:], l.w1)
		return dst[:n+len(l.s)]
	}
	return append(dst, l.s...)
}

// appendJSONStringAfter appends pre and then the string s as
// appendJSONString does.
func appendJSONStringAfter(dst []byte, pre *jsonEncLit, s string) []byte {
	if len(pre.s) <= 16 && len(s) <= 16 {
		if b, ok := appendJSONShortString(dst, pre, s); ok {
			return b
		}
	}
	i := jsonEncSafePrefix(s)
	for i < len(s) && jsonEncSafe[s[i]] {
		i++
	}
	if i == len(s) {
		// One check of capacity for the lot.
		n := len(dst)
		dst = slices.Grow(dst, len(pre.s)+len(s)+2)[:n+len(pre.s)+len(s)+2]
		n += copy(dst[n:], pre.s)
		dst[n] = '"'
		copy(dst[n+1:], s)
		dst[len(dst)-1] = '"'
		return dst
	}
	dst = append(dst, pre.s...)
	dst = append(dst, '"')
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonEncSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonEncHex[c>>4], jsonEncHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8 becomes U+FFFD, as encoding/json writes it.
			dst = append(dst, s[start:i]...)
			dst = append(dst, jsonReplacement...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonEncHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
