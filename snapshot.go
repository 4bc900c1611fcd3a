package cookiesession

import (
	"encoding"
	"encoding/gob"
	"encoding/json"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

// Change is detected by content: a session is written when its serialised
// data differs from what arrived. Serialising on every request to find out
// would cost about as much as opening the cookie, so the Manager keeps a
// deep copy of the data as it arrived (a snapshot) and first compares the
// two values directly. Equal values serialise equally, so equality settles
// it without serialising; a difference (which may still serialise the same,
// say in a field the serializer skips) is settled by serialising.
//
// The walk is sound only for types whose serialised form is a function of
// their reachable values. Types that serialise themselves (json.Marshaler
// and the like, time.Time aside) or hold funcs, channels or unsafe
// pointers opt out, and so do values nested beyond maxSnapshotDepth (a
// cycle, say): for them the Manager serialises every time.
//
// Reflection costs about as much as serialising, so each type gets a plan,
// built once, that walks values by offset. Maps and interfaces, whose
// layout is the runtime's, are walked with reflect.

// maxSnapshotDepth bounds the walk; deeper values fall back to serialising.
const maxSnapshotDepth = 32

var (
	timeType = reflect.TypeFor[time.Time]()
	// A type with any of these methods decides its own serialised form,
	// from state the walk cannot see.
	selfSerialising = []reflect.Type{
		reflect.TypeFor[json.Marshaler](),
		reflect.TypeFor[encoding.TextMarshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](),
		reflect.TypeFor[gob.GobEncoder](),
	}
	// plans caches a plan per walkable type, nil for the others.
	plans sync.Map // reflect.Type -> *plan
	// planMu serialises plan building, so that a recursive type's plan is
	// complete before anyone else can see it.
	planMu sync.Mutex
)

// plan walks values of one type through pointers to them.
type plan struct {
	t     reflect.Type
	size  uintptr
	plain bool // no references: a memory copy duplicates a value
	// equal reports whether the values at a and b are the same all the
	// way down; deepen replaces the references the value at dst shares
	// with the one at src (already copied over it) by copies.
	equal  func(a, b unsafe.Pointer, depth int) bool
	deepen func(dst, src unsafe.Pointer, depth int) bool
}

// planFor returns the plan for t, or nil if t's values cannot be walked.
func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	planMu.Lock()
	defer planMu.Unlock()
	building := map[reflect.Type]*plan{}
	p := buildPlan(t, building)
	if p != nil && !planComplete(p, building) {
		p = nil
	}
	plans.Store(t, p)
	return p
}

// planComplete reports whether no part of a recursive plan turned out
// unwalkable after another part had already referred to it.
func planComplete(p *plan, building map[reflect.Type]*plan) bool {
	for _, q := range building {
		if q.equal == nil {
			return false
		}
	}
	return p.equal != nil
}

func selfSerialisingType(t reflect.Type) bool { return implementsAny(t, selfSerialising) }

func buildPlan(t reflect.Type, building map[reflect.Type]*plan) *plan {
	if p, ok := building[t]; ok {
		return p // recursive type: filled in where the recursion started
	}
	p := &plan{t: t, size: t.Size()}
	building[t] = p
	if t == timeType {
		// wall, ext and loc: equal fields serialise equally, and the
		// location a shared pointer refers to never changes.
		p.plain = true
		p.equal = memEqual(t.Size())
		p.deepen = deepenNothing
		return p
	}
	if selfSerialisingType(t) {
		return nil
	}
	switch k := t.Kind(); {
	case scalarKind(k):
		// Compared as bits, not with ==: an unchanged NaN is unchanged,
		// and -0 and 0 serialise differently.
		p.plain, p.equal, p.deepen = true, memEqual(t.Size()), deepenNothing
	case k == reflect.String:
		p.plain, p.deepen = true, deepenNothing
		p.equal = func(a, b unsafe.Pointer, _ int) bool { return *(*string)(a) == *(*string)(b) }
	case k == reflect.Struct:
		if !structPlan(p, t, building) {
			return nil
		}
	case k == reflect.Array:
		if !arrayPlan(p, t, building) {
			return nil
		}
	case k == reflect.Slice:
		if !slicePlan(p, t, building) {
			return nil
		}
	case k == reflect.Pointer:
		if !pointerPlan(p, t, building) {
			return nil
		}
	case k == reflect.Map:
		if !plainType(t.Key()) || buildPlan(t.Elem(), building) == nil {
			return nil
		}
		p.equal, p.deepen = reflectEqual(t), reflectDeepen(t)
	case k == reflect.Interface:
		p.equal, p.deepen = reflectEqual(t), reflectDeepen(t)
	default: // funcs, channels, unsafe pointers
		return nil
	}
	return p
}

func deepenNothing(_, _ unsafe.Pointer, _ int) bool { return true }

// memEqual compares n bytes. Only for types without padding.
func memEqual(n uintptr) func(a, b unsafe.Pointer, _ int) bool {
	return func(a, b unsafe.Pointer, _ int) bool { return bytesEqual(a, b, n) }
}

type fieldPlan struct {
	off uintptr
	p   *plan
}

func structPlan(p *plan, t reflect.Type, building map[reflect.Type]*plan) bool {
	var refs []fieldPlan // the fields deepen must visit
	for i := range t.NumField() {
		f := t.Field(i)
		fp := buildPlan(f.Type, building)
		// A struct copy duplicates plain fields; references in unexported
		// fields could not be replaced by copies, so they opt out.
		if fp == nil || !f.IsExported() && !plainType(f.Type) {
			return false
		}
		if !plainType(f.Type) {
			refs = append(refs, fieldPlan{f.Offset, fp})
		}
	}
	p.plain = len(refs) == 0
	// Comparing runs twice a request: flatten nested structs and compare
	// runs of scalars as memory, without a call per field.
	ops := appendCmpOps(nil, t, 0, building)
	p.equal = func(a, b unsafe.Pointer, depth int) bool {
		for i := range ops {
			op := &ops[i]
			pa, pb := unsafe.Add(a, op.off), unsafe.Add(b, op.off)
			switch op.kind {
			case opBytes:
				if !bytesEqual(pa, pb, op.size) {
					return false
				}
			case opString:
				if *(*string)(pa) != *(*string)(pb) {
					return false
				}
			default:
				if !op.p.equal(pa, pb, depth+1) {
					return false
				}
			}
		}
		return true
	}
	p.deepen = func(dst, src unsafe.Pointer, depth int) bool {
		if depth > maxSnapshotDepth {
			return false
		}
		for _, f := range refs {
			if !f.p.deepen(unsafe.Add(dst, f.off), unsafe.Add(src, f.off), depth+1) {
				return false
			}
		}
		return true
	}
	return true
}

// cmpOp is one step of comparing a struct: a run of scalar bytes (where
// equal bits serialise equally: floats too, NaN and -0 included), a
// string, or another plan's comparison.
type cmpOp struct {
	kind      uint8
	off, size uintptr
	p         *plan
}

const (
	opBytes = iota
	opString
	opPlan
)

func scalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// appendCmpOps appends the steps comparing a value of type t at offset off.
// t's plan, and those of its fields, are already built (or being built).
func appendCmpOps(ops []cmpOp, t reflect.Type, off uintptr, building map[reflect.Type]*plan) []cmpOp {
	switch {
	case t == timeType || scalarKind(t.Kind()) || t.Kind() == reflect.Array && scalarKind(t.Elem().Kind()):
		// time.Time: wall, ext and loc, equal fields serialise equally.
		if n := len(ops); n > 0 && ops[n-1].kind == opBytes && ops[n-1].off+ops[n-1].size == off {
			ops[n-1].size += t.Size()
			return ops
		}
		return append(ops, cmpOp{kind: opBytes, off: off, size: t.Size()})
	case t.Kind() == reflect.String:
		return append(ops, cmpOp{kind: opString, off: off})
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			ops = appendCmpOps(ops, f.Type, off+f.Offset, building)
		}
		return ops
	}
	return append(ops, cmpOp{kind: opPlan, off: off, p: buildPlan(t, building)})
}

// bytesEqual compares n bytes, with single loads for the common sizes.
func bytesEqual(a, b unsafe.Pointer, n uintptr) bool {
	if n == 8 && (uintptr(a)|uintptr(b))%8 == 0 {
		return *(*uint64)(a) == *(*uint64)(b)
	}
	return unsafe.String((*byte)(a), n) == unsafe.String((*byte)(b), n)
}

func arrayPlan(p *plan, t reflect.Type, building map[reflect.Type]*plan) bool {
	ep := buildPlan(t.Elem(), building)
	if ep == nil {
		return false
	}
	n, size := uintptr(t.Len()), t.Elem().Size()
	p.plain = plainType(t.Elem())
	p.equal = func(a, b unsafe.Pointer, depth int) bool {
		for i := range n {
			if !ep.equal(unsafe.Add(a, i*size), unsafe.Add(b, i*size), depth+1) {
				return false
			}
		}
		return true
	}
	p.deepen = func(dst, src unsafe.Pointer, depth int) bool {
		if p.plain {
			return true
		}
		for i := range n {
			if !ep.deepen(unsafe.Add(dst, i*size), unsafe.Add(src, i*size), depth+1) {
				return false
			}
		}
		return true
	}
	return true
}

// sliceHeader is the runtime's layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func slicePlan(p *plan, t reflect.Type, building map[reflect.Type]*plan) bool {
	ep := buildPlan(t.Elem(), building)
	if ep == nil {
		return false
	}
	size := t.Elem().Size()
	elemPlain := plainType(t.Elem())
	p.equal = func(a, b unsafe.Pointer, depth int) bool {
		sa, sb := (*sliceHeader)(a), (*sliceHeader)(b)
		// nil and empty serialise differently ("null" and "[]").
		if sa.len != sb.len || (sa.data == nil) != (sb.data == nil) || depth > maxSnapshotDepth {
			return false
		}
		for i := range uintptr(sa.len) {
			if !ep.equal(unsafe.Add(sa.data, i*size), unsafe.Add(sb.data, i*size), depth+1) {
				return false
			}
		}
		return true
	}
	switch {
	case t.Elem().Kind() == reflect.String:
		// Any string type has string's layout: copy without reflect.
		p.deepen = func(dst, src unsafe.Pointer, _ int) bool {
			if s := *(*[]string)(src); s != nil {
				c := make([]string, len(s))
				copy(c, s)
				*(*[]string)(dst) = c
			}
			return true
		}
		return true
	case !hasPointers(t.Elem()):
		// Bytes without pointers need no typed memory: a byte array
		// holds them, and the garbage collector has nothing to trace.
		p.deepen = func(dst, src unsafe.Pointer, _ int) bool {
			s := (*sliceHeader)(src)
			if s.data != nil {
				n := uintptr(s.len) * size
				c := make([]byte, n, max(n, 1))
				copy(c, unsafe.Slice((*byte)(s.data), n))
				*(*sliceHeader)(dst) = sliceHeader{unsafe.Pointer(unsafe.SliceData(c)), s.len, s.len}
			}
			return true
		}
		return true
	}
	p.deepen = func(dst, src unsafe.Pointer, depth int) bool {
		s := (*sliceHeader)(src)
		if s.data == nil || depth > maxSnapshotDepth {
			return depth <= maxSnapshotDepth
		}
		// A fresh array, filled with typed copies (reflect.Copy keeps the
		// garbage collector informed of the pointers it moves).
		d := reflect.NewAt(t, dst).Elem()
		if s.len == 0 {
			// Grow(0) would leave a nil slice, and nil serialises as
			// "null" where the source says "[]".
			d.Set(reflect.MakeSlice(t, 0, 0))
			return true
		}
		d.SetZero()
		d.Grow(s.len)
		d.SetLen(s.len)
		reflect.Copy(d, reflect.NewAt(t, src).Elem())
		if elemPlain {
			return true
		}
		dd := (*sliceHeader)(dst)
		for i := range uintptr(s.len) {
			if !ep.deepen(unsafe.Add(dd.data, i*size), unsafe.Add(s.data, i*size), depth+1) {
				return false
			}
		}
		return true
	}
	return true
}

func pointerPlan(p *plan, t reflect.Type, building map[reflect.Type]*plan) bool {
	ep := buildPlan(t.Elem(), building)
	if ep == nil {
		return false
	}
	p.equal = func(a, b unsafe.Pointer, depth int) bool {
		pa, pb := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
		if pa == nil || pb == nil {
			return pa == pb
		}
		return depth <= maxSnapshotDepth && ep.equal(pa, pb, depth+1)
	}
	p.deepen = func(dst, src unsafe.Pointer, depth int) bool {
		ps := *(*unsafe.Pointer)(src)
		if ps == nil {
			return true
		}
		if depth > maxSnapshotDepth {
			return false
		}
		c := reflect.New(t.Elem())
		c.Elem().Set(reflect.NewAt(t.Elem(), ps).Elem())
		reflect.NewAt(t, dst).Elem().Set(c)
		return ep.deepen(c.UnsafePointer(), ps, depth+1)
	}
	return true
}

// reflectEqual and reflectDeepen walk maps and interfaces with reflect.
func reflectEqual(t reflect.Type) func(a, b unsafe.Pointer, depth int) bool {
	return func(a, b unsafe.Pointer, depth int) bool {
		return sameValue(reflect.NewAt(t, a).Elem(), reflect.NewAt(t, b).Elem(), depth)
	}
}

func reflectDeepen(t reflect.Type) func(dst, src unsafe.Pointer, depth int) bool {
	return func(dst, src unsafe.Pointer, depth int) bool {
		return deepen(reflect.NewAt(t, dst).Elem(), reflect.NewAt(t, src).Elem(), depth)
	}
}

// hasPointers reports whether values of t contain pointers the garbage
// collector must see.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

// plainType reports whether t holds no references: copying a value of it
// duplicates it entirely.
func plainType(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return plainType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !plainType(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// snapshotter copies and compares values of one walkable type T.
type snapshotter[T any] struct{ p *plan }

func newSnapshotter[T any]() snapshotter[T] { return snapshotter[T]{planFor(reflect.TypeFor[T]())} }

// ok reports whether T can be walked at all.
func (s snapshotter[T]) ok() bool { return s.p != nil }

// take makes *dst a deep copy of *src, reporting false if the value is too
// deep to copy (*dst is then unusable).
func (s snapshotter[T]) take(dst, src *T) bool {
	*dst = *src // plain parts, unexported fields included
	return s.p.plain || s.p.deepen(unsafe.Pointer(dst), unsafe.Pointer(src), 0)
}

// same reports whether *a and *b hold equal values all the way down. It
// errs towards false.
func (s snapshotter[T]) same(a, b *T) bool {
	return s.p.equal(unsafe.Pointer(a), unsafe.Pointer(b), 0)
}

// deepen is reflectDeepen's walk: it replaces the references dst shares
// with src by copies.
func deepen(dst, src reflect.Value, depth int) bool {
	if depth > maxSnapshotDepth {
		return false
	}
	switch src.Kind() {
	case reflect.Map:
		if src.IsNil() {
			return true
		}
		mp := reflect.MakeMapWithSize(src.Type(), src.Len())
		plain := plainType(src.Type().Elem())
		it := src.MapRange()
		for it.Next() {
			v := it.Value()
			if !plain {
				c := reflect.New(v.Type()).Elem()
				c.Set(v)
				if !deepen(c, v, depth+1) {
					return false
				}
				v = c
			}
			mp.SetMapIndex(it.Key(), v)
		}
		dst.Set(mp)
	case reflect.Interface:
		if src.IsNil() {
			return true
		}
		e := src.Elem()
		if planFor(e.Type()) == nil {
			return false
		}
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		if !deepen(c, e, depth+1) {
			return false
		}
		dst.Set(c)
	default:
		// Values inside maps and interfaces are not addressable by offset
		// here; hand them back to their plans through a copy.
		p := planFor(src.Type())
		if p == nil {
			return false
		}
		if p.plain {
			return true
		}
		if !dst.CanAddr() {
			return false
		}
		return p.deepen(dst.Addr().UnsafePointer(), srcPointer(src), depth)
	}
	return true
}

// srcPointer returns a pointer to src's value, copying it if src is not
// addressable (values read from maps or interfaces are not).
func srcPointer(src reflect.Value) unsafe.Pointer {
	if src.CanAddr() {
		return src.Addr().UnsafePointer()
	}
	c := reflect.New(src.Type())
	c.Elem().Set(src)
	return c.UnsafePointer()
}

// sameValue is reflectEqual's walk.
func sameValue(a, b reflect.Value, depth int) bool {
	if depth > maxSnapshotDepth {
		return false
	}
	switch a.Kind() {
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !sameValue(it.Value(), bv, depth+1) {
				return false
			}
		}
		return true
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		ea, eb := a.Elem(), b.Elem()
		return ea.Type() == eb.Type() && sameValue(ea, eb, depth+1)
	}
	p := planFor(a.Type())
	if p == nil {
		return false
	}
	return p.equal(srcPointer(a), srcPointer(b), depth)
}
