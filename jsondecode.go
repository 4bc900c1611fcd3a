package cookiesession

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"reflect"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Opening a cookie this process has not seen is mostly json.Unmarshal:
// reflection for every field, a map lookup for every key. The data is
// nearly always json.Marshal's own output for the session type, or for an
// older version of it: compact, the keys exactly the field names, few
// escapes. So each type gets a decoding plan, built once, that reads that
// form by offset, and gives up at the first thing it is not certain of.
//
// Giving up is always correct: the value is reset to zero and
// json.Unmarshal decodes it from the start, so the result, and the error,
// are encoding/json's. The fast path therefore accepts only input
// encoding/json accepts, and decodes it only into the value encoding/json
// would produce. What it gives up on:
//
//   - anything encoding/json would reject, or decode with an error (a
//     string into an int, 1.5 into an int, an overflow): only encoding/json
//     knows which error it reports, and how much it decoded before;
//   - keys with escapes or non-ASCII bytes, and keys that are not a field's
//     name but equal one ignoring case: encoding/json matches keys with its
//     own case folding (Unicode's included), which the plan does not copy;
//   - a field's key seen twice (encoding/json merges the values);
//   - values nested beyond jdMaxDepth.
//
// Values the plan does not know how to build (maps, interfaces, []byte's
// base64, types that unmarshal themselves, structs jsonFields leaves to
// encoding/json) are handed to json.Unmarshal one by one, with the bytes of
// just that value; if it fails, the whole decoding gives up, so that the
// error is the one json.Unmarshal reports for the whole input. (A type's
// own UnmarshalJSON may so run twice for one value: once here, once when
// something after it gives up.)
//
// Strings are cut from one copy of the input, made when the first is
// stored: one allocation, not one a string. The copy lives as long as any
// of its strings, which for session data is about as long as the session.

// jdMaxDepth bounds the nesting the fast path follows: deeper input, a
// recursive type's say, is left to encoding/json.
const jdMaxDepth = 64

// jdMaxFields is the most fields a struct may have for the fast path: the
// keys seen are kept as bits of one word, to give up on a repeated key.
const jdMaxFields = 64

// jdMaxSlice bounds the bytes a slice's backing array may take before its
// elements are decoded (the count comes from input not yet checked).
const jdMaxSlice = 1 << 28

type jdKind uint8

const (
	jdFallback jdKind = iota // json.Unmarshal, value by value
	jdBool
	jdInt
	jdUint
	jdFloat
	jdString
	jdStruct
	jdSlice
	jdArray
	jdPointer
)

// jdPlan decodes values of one type through pointers to them.
type jdPlan struct {
	kind   jdKind
	t      reflect.Type
	size   uintptr // of a value; bits of ints, uints and floats are size*8
	elem   *jdPlan // of slices, arrays and pointers
	length int     // of arrays
	// How a slice's backing array is made: without reflect when the
	// elements are strings or hold no pointers.
	elemString, elemNoPointers bool
	fields                     []jdField
}

type jdField struct {
	name string
	// The key and its colon as json.Marshal writes them: a field whose
	// key comes where expected is matched with one comparison.
	pattern string
	off     uintptr
	p       *jdPlan
}

var (
	jdPlans sync.Map // reflect.Type -> *jdPlan
	// jdMu serialises plan building, so that a recursive type's plan is
	// complete before anyone else can see it.
	jdMu sync.Mutex
)

// jsonDecoder decodes into values of one type exactly as json.Unmarshal does.
type jsonDecoder struct {
	t reflect.Type
	p *jdPlan
}

// newJSONDecoder returns the decoder for type t, or nil when the compiled
// decoder cannot help at all for t (json.Unmarshal is then used directly).
func newJSONDecoder(t reflect.Type) *jsonDecoder {
	p := jdPlanFor(t)
	if p.kind == jdFallback {
		return nil
	}
	return &jsonDecoder{t: t, p: p}
}

// decode decodes data into the value of type t at p, which the caller has set
// to t's zero value. Afterwards the value at p, and whether an error is
// returned, are exactly as after json.Unmarshal(data, reflect.NewAt(t, p).Interface())
// from the zero value; when json.Unmarshal would fail, decode returns
// json.Unmarshal's own error.
func (d *jsonDecoder) decode(data []byte, p unsafe.Pointer) error {
	if d.fast(data, p) {
		return nil
	}
	v := reflect.NewAt(d.t, p)
	v.Elem().SetZero()
	return json.Unmarshal(data, v.Interface())
}

// fast decodes data into the zero value at p, reporting false, with the
// value in any state, where it gave up.
func (d *jsonDecoder) fast(data []byte, p unsafe.Pointer) bool {
	// Parsing reads data through a string that shares its bytes; strings
	// stored in the value are cut from one copy of it (jdState.str).
	st := jdState{s: unsafe.String(unsafe.SliceData(data), len(data)), data: data}
	st.ws()
	if !st.value(d.p, p, 0) {
		return false
	}
	st.ws()
	return st.i == len(st.s)
}

func jdPlanFor(t reflect.Type) *jdPlan {
	if p, ok := jdPlans.Load(t); ok {
		return p.(*jdPlan)
	}
	jdMu.Lock()
	defer jdMu.Unlock()
	if p, ok := jdPlans.Load(t); ok {
		return p.(*jdPlan)
	}
	p := jdBuild(t, map[reflect.Type]*jdPlan{})
	jdPlans.Store(t, p)
	return p
}

// jdBuild returns t's plan. A plan's kind is settled before the plans of
// its parts are built, so a recursive type's parts, which see the plan
// while it is being built, never see it change kind.
func jdBuild(t reflect.Type, building map[reflect.Type]*jdPlan) *jdPlan {
	if p, ok := building[t]; ok {
		return p
	}
	if p, ok := jdPlans.Load(t); ok {
		return p.(*jdPlan)
	}
	p := &jdPlan{t: t, size: t.Size()}
	building[t] = p
	if t == jsonNumberType || implementsAny(t, jsonSelfDecoding) {
		return p // jdFallback
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = jdBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = jdInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = jdUint
	case reflect.Float32, reflect.Float64:
		p.kind = jdFloat
	case reflect.String:
		p.kind = jdString
	case reflect.Struct:
		fields, ok := jsonFields(t)
		if !ok || len(fields) > jdMaxFields {
			return p
		}
		p.kind = jdStruct
		for _, f := range fields {
			p.fields = append(p.fields, jdField{name: f.name, pattern: `"` + f.name + `":`, off: f.offset})
		}
		for i, f := range fields {
			p.fields[i].p = jdBuild(f.typ, building)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return p // base64 from a string, numbers from an array
		}
		p.kind = jdSlice
		p.elemString = t.Elem().Kind() == reflect.String
		p.elemNoPointers = !hasPointers(t.Elem()) && t.Elem().Size() > 0
		p.elem = jdBuild(t.Elem(), building)
	case reflect.Array:
		p.kind = jdArray
		p.length = t.Len()
		p.elem = jdBuild(t.Elem(), building)
	case reflect.Pointer:
		p.kind = jdPointer
		p.elem = jdBuild(t.Elem(), building)
	}
	return p
}

// jdState is one decoding: the input, and how far it has been read.
type jdState struct {
	s    string // data's bytes, not a copy: never stored
	data []byte
	i    int
	// owned is the copy of data that decoded strings are cut from, made
	// when the first one is stored.
	owned  string
	copied bool
}

// str returns the input's bytes a to b as a string the value may keep.
func (st *jdState) str(a, b int) string {
	if a == b {
		return ""
	}
	if !st.copied {
		st.owned, st.copied = string(st.data), true
	}
	return st.owned[a:b]
}

func (st *jdState) ws() {
	// json.Marshal writes no space: one comparison settles most calls.
	for st.i < len(st.s) && st.s[st.i] <= ' ' {
		switch st.s[st.i] {
		case ' ', '\t', '\n', '\r':
			st.i++
		default:
			return
		}
	}
}

// literal consumes lit if the input continues with it.
func (st *jdState) literal(lit string) bool {
	if len(st.s)-st.i >= len(lit) && st.s[st.i:st.i+len(lit)] == lit {
		st.i += len(lit)
		return true
	}
	return false
}

// open consumes the '{' or '[' at st.i and the space after it, and reports
// whether close follows at once: an empty object or array.
func (st *jdState) open(close byte) bool {
	st.i++
	st.ws()
	if st.i < len(st.s) && st.s[st.i] == close {
		st.i++
		return true
	}
	return false
}

// next consumes what follows a member or an element: a comma (more), or
// close (done). Anything else is not JSON (!ok). The space after a comma
// is left to the caller.
func (st *jdState) next(close byte) (more, ok bool) {
	st.ws()
	if st.i < len(st.s) {
		switch st.s[st.i] {
		case ',':
			st.i++
			return true, true
		case close:
			st.i++
			return false, true
		}
	}
	return false, false
}

// value decodes the value at st.i into the zero value at ptr, reporting
// false to give up.
func (st *jdState) value(p *jdPlan, ptr unsafe.Pointer, depth int) bool {
	if st.i >= len(st.s) || depth > jdMaxDepth {
		return false
	}
	c := st.s[st.i]
	if c == 'n' && p.kind != jdFallback {
		// null sets pointers, slices, maps and interfaces to nil and leaves
		// other values unchanged: the value is zero, and stays so. (Types
		// that unmarshal themselves are called even for null: they are
		// jdFallback.)
		return st.literal("null")
	}
	switch p.kind {
	case jdBool:
		switch {
		case st.literal("true"):
			*(*bool)(ptr) = true
			return true
		case st.literal("false"):
			return true
		}
		return false
	case jdInt:
		return st.int(p.size, ptr)
	case jdUint:
		return st.uint(p.size, ptr)
	case jdFloat:
		return st.float(p.size, ptr)
	case jdString:
		if c != '"' {
			return false
		}
		s, ok := st.string()
		if ok {
			*(*string)(ptr) = s
		}
		return ok
	case jdStruct:
		return c == '{' && st.object(p, ptr, depth)
	case jdSlice:
		return c == '[' && st.slice(p, ptr, depth)
	case jdArray:
		return c == '[' && st.array(p, ptr, depth)
	case jdPointer:
		e := reflect.New(p.elem.t).UnsafePointer()
		if !st.value(p.elem, e, depth+1) {
			return false
		}
		*(*unsafe.Pointer)(ptr) = e
		return true
	}
	// jdFallback: json.Unmarshal decodes just this value. It sees the value
	// as it would inside the whole input (the same bytes, a settable
	// value), so it decodes it the same way.
	start := st.i
	if !st.skip(depth) {
		return false
	}
	return json.Unmarshal(st.data[start:st.i], reflect.NewAt(p.t, ptr).Interface()) == nil
}

func (st *jdState) object(p *jdPlan, ptr unsafe.Pointer, depth int) bool {
	s := st.s
	if st.open('}') {
		return true
	}
	var seen uint64
	next := 0 // the field expected next: keys come in field order
	for {
		f := -1
		if next < len(p.fields) {
			if pat := p.fields[next].pattern; len(s)-st.i >= len(pat) && s[st.i:st.i+len(pat)] == pat {
				f = next
				st.i += len(pat)
			}
		}
		var key string
		if f < 0 {
			if st.i >= len(s) || s[st.i] != '"' {
				return false
			}
			start := st.i + 1
			// Keys with escapes or non-ASCII bytes give up.
			j := jdPlainRun(st.data, start)
			if j >= len(s) || s[j] != '"' {
				return false
			}
			key = s[start:j]
			st.i = j + 1
			st.ws()
			if st.i >= len(s) || s[st.i] != ':' {
				return false
			}
			st.i++
			for k := range p.fields {
				if p.fields[k].name == key {
					f = k
					break
				}
			}
		}
		st.ws()
		if f < 0 {
			for k := range p.fields {
				if jdEqualFoldASCII(p.fields[k].name, key) {
					return false
				}
			}
			if !st.skip(depth + 1) {
				return false
			}
		} else {
			if seen&(1<<f) != 0 {
				return false
			}
			seen |= 1 << f
			next = f + 1
			fd := &p.fields[f]
			if !st.value(fd.p, unsafe.Add(ptr, fd.off), depth+1) {
				return false
			}
		}
		if more, ok := st.next('}'); !more {
			return ok
		}
		st.ws()
	}
}

// jdEqualFoldASCII reports whether ASCII strings a and b are equal ignoring
// case, as encoding/json's folding sees ASCII keys.
func jdEqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// slice counts the array's elements first, so that its backing array is
// allocated once, at its final size.
func (st *jdState) slice(p *jdPlan, ptr unsafe.Pointer, depth int) bool {
	n, ok := st.count()
	size := p.elem.size
	if !ok || size > 0 && uintptr(n) > jdMaxSlice/size {
		return false
	}
	var data unsafe.Pointer
	switch {
	case n == 0:
		// encoding/json makes [] an empty slice, not nil. Any pointer will
		// do for an array of no elements.
		data = unsafe.Pointer(&jdNoElements)
	case p.elemString:
		data = unsafe.Pointer(unsafe.SliceData(make([]string, n)))
	case p.elemNoPointers:
		// The garbage collector has nothing to trace in these elements; a
		// byte array is aligned for any of them (snapshot.go does the same).
		data = unsafe.Pointer(unsafe.SliceData(make([]byte, uintptr(n)*size)))
	default:
		v := reflect.NewAt(p.t, ptr).Elem()
		v.Grow(n) // typed memory: the garbage collector sees its pointers
		data = (*sliceHeader)(ptr).data
	}
	k := 0
	if !st.open(']') {
		for {
			if k == n || !st.value(p.elem, unsafe.Add(data, uintptr(k)*size), depth+1) {
				return false
			}
			k++
			more, ok := st.next(']')
			if !ok {
				return false
			}
			if !more {
				break
			}
			st.ws()
		}
	}
	if k != n {
		return false
	}
	*(*sliceHeader)(ptr) = sliceHeader{data: data, len: n, cap: n}
	return true
}

var jdNoElements struct{}

// count returns the number of elements of the array at st.i. It trusts the
// array's syntax: decoding it checks that, and gives up if the count was
// wrong.
func (st *jdState) count() (int, bool) {
	s, i := st.s, st.i+1
	for i < len(s) && s[i] <= ' ' {
		i++
	}
	if i < len(s) && s[i] == ']' {
		return 0, true
	}
	n, depth := 1, 0
	for ; i < len(s); i++ {
		switch jdCountClass[s[i]] {
		case jdQuote:
			for i++; ; {
				if i = jdPlainRun(st.data, i); i >= len(s) {
					return 0, false
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' {
					i++ // the escaped byte may be a quote
				}
				i++
			}
		case jdOpen:
			depth++
		case jdClose:
			if depth == 0 {
				return n, true
			}
			depth--
		case jdComma:
			if depth == 0 {
				n++
			}
		}
	}
	return 0, false
}

// The bytes count looks at; the others it passes over.
const (
	jdOther = iota
	jdQuote
	jdOpen
	jdClose
	jdComma
)

var jdCountClass = [256]uint8{'"': jdQuote, '[': jdOpen, '{': jdOpen, ']': jdClose, '}': jdClose, ',': jdComma}

// array fills a Go array; encoding/json skips the elements beyond its
// length and leaves those the input lacks zero.
func (st *jdState) array(p *jdPlan, ptr unsafe.Pointer, depth int) bool {
	if st.open(']') {
		return true
	}
	for k := 0; ; k++ {
		var ok bool
		if k < p.length {
			ok = st.value(p.elem, unsafe.Add(ptr, uintptr(k)*p.elem.size), depth+1)
		} else {
			ok = st.skip(depth + 1)
		}
		if !ok {
			return false
		}
		if more, ok := st.next(']'); !more {
			return ok
		}
		st.ws()
	}
}

// number returns the end of the JSON number at st.i, or -1.
func (st *jdState) number() int {
	s, i := st.s, st.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return -1
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		}
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return -1
		}
		for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return -1
		}
		for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		}
	}
	return i
}

// digits reads the integer at st.i: an optional minus and at most 19
// digits, so that it fits a uint64. A fraction or an exponent gives up:
// encoding/json reports them as errors for integers.
func (st *jdState) digits() (n uint64, neg, ok bool) {
	s, i := st.s, st.i
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	if d := i - start; d == 0 || d > 19 || d > 1 && s[start] == '0' {
		return 0, false, false
	}
	if i < len(s) && (s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
		return 0, false, false
	}
	st.i = i
	return n, neg, true
}

func (st *jdState) int(size uintptr, ptr unsafe.Pointer) bool {
	n, neg, ok := st.digits()
	limit := uint64(1) << (size*8 - 1) // the magnitude of the least value
	if !ok || n > limit || n == limit && !neg {
		return false
	}
	v := int64(n)
	if neg {
		v = -v
	}
	switch size {
	case 1:
		*(*int8)(ptr) = int8(v)
	case 2:
		*(*int16)(ptr) = int16(v)
	case 4:
		*(*int32)(ptr) = int32(v)
	default:
		*(*int64)(ptr) = v
	}
	return true
}

func (st *jdState) uint(size uintptr, ptr unsafe.Pointer) bool {
	n, neg, ok := st.digits()
	// Not even -0: strconv.ParseUint takes no sign.
	if !ok || neg || size < 8 && n >= 1<<(size*8) {
		return false
	}
	switch size {
	case 1:
		*(*uint8)(ptr) = uint8(n)
	case 2:
		*(*uint16)(ptr) = uint16(n)
	case 4:
		*(*uint32)(ptr) = uint32(n)
	default:
		*(*uint64)(ptr) = n
	}
	return true
}

func (st *jdState) float(size uintptr, ptr unsafe.Pointer) bool {
	end := st.number()
	if end < 0 {
		return false
	}
	f, err := strconv.ParseFloat(st.s[st.i:end], int(size*8))
	if err != nil {
		return false
	}
	st.i = end
	if size == 4 {
		*(*float32)(ptr) = float32(f)
	} else {
		*(*float64)(ptr) = f
	}
	return true
}

// jdPlainByte marks the bytes a string holds as they are: not its end, an
// escape, a control character (invalid) or the start of a multi-byte
// UTF-8 sequence (which may be invalid, and replaced).
var jdPlainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// string decodes the string at st.i (its opening quote). Without escapes
// and invalid UTF-8 it is a substring of the input's one copy.
func (st *jdState) string() (string, bool) {
	s := st.s
	start := st.i + 1
	for i := start; ; {
		if i = jdPlainRun(st.data, i); i >= len(s) {
			return "", false
		}
		c := s[i]
		if c == '"' {
			st.i = i + 1
			return st.str(start, i), true
		}
		if c >= utf8.RuneSelf {
			if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
		}
		if c < ' ' {
			return "", false
		}
		return st.unquote(start, i)
	}
}

// jdPlainRun returns the index of the first byte in b from i on that is
// not plain (jdPlainByte), or len(b). It looks at eight bytes at a time.
func jdPlainRun(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// A high bit is set in a byte below ' ', a zero byte of q or e
		// (a quote or a backslash in x), or a byte of x from 0x80 on.
		// Borrows only start from such bytes, so the lowest is exact.
		q, e := x^(ones*'"'), x^(ones*'\\')
		if m := ((x - ones*' ') | (q - ones) | (e - ones) | x) & highs; m != 0 {
			// Above the first such byte a borrow may set more bits.
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && jdPlainByte[b[i]]; i++ {
	}
	return i
}

// unquote decodes the string from start (after its opening quote), plain
// up to i, as encoding/json's unquote does: escapes are decoded, and
// invalid surrogates and invalid UTF-8 become U+FFFD.
func (st *jdState) unquote(start, i int) (string, bool) {
	st.i = start - 1
	if !st.skipString() { // checks the string as encoding/json's scanner does
		return "", false
	}
	s := st.s[:st.i-1] // up to the closing quote
	// Escapes only shrink; invalid UTF-8, which grows, is rare.
	b := make([]byte, 0, len(s)-start)
	b = append(b, s[start:i]...)
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := jdHex4(s[i:])
				if utf16.IsSurrogate(r) {
					if d := utf16.DecodeRune(r, jdHex4(s[i+6:])); d != unicode.ReplacementChar {
						b = utf8.AppendRune(b, d)
						i += 12
						continue
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				i += 6
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for an invalid byte
			i += n
		}
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// jdHex4 returns the rune of the \uXXXX escape s starts with, or -1.
func jdHex4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skip moves past the value at st.i, checking its syntax as encoding/json
// does before it decodes anything.
func (st *jdState) skip(depth int) bool {
	s := st.s
	if st.i >= len(s) || depth > jdMaxDepth {
		return false
	}
	switch s[st.i] {
	case '{':
		if st.open('}') {
			return true
		}
		for {
			if st.i >= len(s) || s[st.i] != '"' || !st.skipString() {
				return false
			}
			st.ws()
			if st.i >= len(s) || s[st.i] != ':' {
				return false
			}
			st.i++
			st.ws()
			if !st.skip(depth + 1) {
				return false
			}
			if more, ok := st.next('}'); !more {
				return ok
			}
			st.ws()
		}
	case '[':
		if st.open(']') {
			return true
		}
		for {
			if !st.skip(depth + 1) {
				return false
			}
			if more, ok := st.next(']'); !more {
				return ok
			}
			st.ws()
		}
	case '"':
		return st.skipString()
	case 't':
		return st.literal("true")
	case 'f':
		return st.literal("false")
	case 'n':
		return st.literal("null")
	}
	end := st.number()
	if end < 0 {
		return false
	}
	st.i = end
	return true
}

// skipString moves past the string at st.i. Invalid UTF-8 is valid JSON
// (encoding/json replaces it); control characters and unknown escapes are
// not.
func (st *jdState) skipString() bool {
	s := st.s
	for i := st.i + 1; ; {
		if i = jdPlainRun(st.data, i); i >= len(s) {
			return false
		}
		switch c := s[i]; {
		case c == '"':
			st.i = i + 1
			return true
		case c < ' ':
			return false
		case c == '\\':
			if i+1 >= len(s) {
				return false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if jdHex4(s[i:]) < 0 {
					return false
				}
				i += 6
			default:
				return false
			}
		default: // from 0x80 on: any byte will do, even in invalid UTF-8
			i++
		}
	}
}
