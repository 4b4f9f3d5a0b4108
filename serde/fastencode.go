package serde

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The fast encoder writes exactly what encodeJSON writes, without
// encoding/json's per-call overhead. For each registered struct type it
// compiles, once, a tree of append functions. A type it cannot compile
// (floats, interfaces, []byte, TextMarshalers, ,string fields, recursive
// types, clashing field names, …) never takes the fast path. If encoding a
// value meets anything doubtful (an error or panic from a MarshalJSON
// method, output it cannot vouch for), the fast encoder gives up and
// JSON.Marshal runs encodeJSON instead, so output and errors are always
// encodeJSON's.

// encodeFunc appends the JSON encoding of v to buf. It returns false if it
// gives up; buf is then garbage.
type encodeFunc func(buf []byte, v reflect.Value) ([]byte, bool)

// jsonAppender is implemented by serde's own json.Marshaler types (Time and
// Set) to append their MarshalJSON output to buf without allocating. It
// returns false if it cannot; MarshalJSON then decides.
type jsonAppender interface {
	appendJSON(buf []byte) ([]byte, bool)
}

// JSONAppender is implemented by a json.Marshaler that can append its JSON
// to a buffer. The JSON serializer's encoder calls AppendJSON instead of
// MarshalJSON on a type (not a pointer) that has both, which saves the
// slice MarshalJSON returns. AppendJSON must append exactly what
// MarshalJSON returns (compact, as encoding/json would copy it) and fail
// when MarshalJSON fails; the encoder then leaves the value to
// encoding/json. serde.AppendEnum writes an enum's.
type JSONAppender interface {
	AppendJSON(buf []byte) ([]byte, error)
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	jsonAppenderType  = reflect.TypeFor[JSONAppender]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	appenderType      = reflect.TypeFor[jsonAppender]()
	serdePkg          = reflect.TypeFor[Time]().PkgPath()
	stringMapType     = reflect.TypeFor[map[string]string]()
)

// fastEncoders caches the compiled encoder of each struct type (a nil
// encodeFunc if the type cannot be compiled).
var fastEncoders sync.Map // reflect.Type -> encodeFunc

// encodeBufPool holds scratch buffers for fastEncode.
var encodeBufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxEncodeBuf is the largest buffer returned to encodeBufPool.
const maxEncodeBuf = 64 << 10

// fastEncodeHook, if set, is called after each successful fastEncode. Tests
// set it before any test runs.
var fastEncodeHook func()

// fastEncode encodes v, an addressable struct, as encodeJSON would. It
// returns false if v's type cannot be compiled or the encoder gave up.
func fastEncode(v reflect.Value) (b []byte, ok bool) {
	enc := encoderFor(v.Type())
	if enc == nil {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			b, ok = nil, false
		}
	}()
	bp := encodeBufPool.Get().(*[]byte)
	buf, ok := enc((*bp)[:0], v)
	if ok {
		b = make([]byte, len(buf)) // with copy, not zeroed first
		copy(b, buf)
	}
	if cap(buf) <= maxEncodeBuf {
		*bp = buf
		encodeBufPool.Put(bp)
	}
	if ok && fastEncodeHook != nil {
		fastEncodeHook()
	}
	return b, ok
}

// encoderFor returns the cached encoder of struct type t, compiling it on
// first use; nil if t cannot be compiled.
func encoderFor(t reflect.Type) encodeFunc {
	if enc, ok := fastEncoders.Load(t); ok {
		return enc.(encodeFunc)
	}
	var enc encodeFunc
	// The root must encode as an object, so Marshal can skip CheckObject:
	// a struct that is not itself a (text) marshaler.
	if t.Kind() == reflect.Struct && !hasMarshaler(t) {
		c := encodeCompiler{busy: make(map[reflect.Type]bool)}
		enc = c.compile(t)
	}
	enc2, _ := fastEncoders.LoadOrStore(t, enc)
	return enc2.(encodeFunc)
}

// hasMarshaler reports whether t or *t implements json.Marshaler or
// encoding.TextMarshaler.
func hasMarshaler(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(marshalerType) || p.Implements(marshalerType) ||
		t.Implements(textMarshalerType) || p.Implements(textMarshalerType)
}

// encodeCompiler builds the encodeFunc tree of one root type.
type encodeCompiler struct {
	// busy holds the types being compiled, to refuse recursive types.
	busy map[reflect.Type]bool
}

// compile returns the encoder of t, or nil if t is not supported.
func (c *encodeCompiler) compile(t reflect.Type) encodeFunc {
	if c.busy[t] {
		return nil
	}
	c.busy[t] = true
	defer delete(c.busy, t)

	if t.Kind() == reflect.Interface {
		return nil
	}
	if t.Implements(marshalerType) {
		return c.marshaler(t)
	}
	if hasMarshaler(t) {
		// A pointer-receiver MarshalJSON, or a TextMarshaler.
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return encodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encodeUint
	case reflect.String:
		return encodeString
	case reflect.Struct:
		return c.structEncoder(t)
	case reflect.Map:
		return c.mapEncoder(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64
		}
		return c.sliceEncoder(t)
	case reflect.Array:
		return c.arrayEncoder(t)
	case reflect.Pointer:
		return c.pointerEncoder(t)
	}
	return nil
}

// encodeBool appends true or false.
func encodeBool(buf []byte, v reflect.Value) ([]byte, bool) {
	return strconv.AppendBool(buf, v.Bool()), true
}

// encodeInt appends a signed integer.
func encodeInt(buf []byte, v reflect.Value) ([]byte, bool) {
	return strconv.AppendInt(buf, v.Int(), 10), true
}

// encodeUint appends an unsigned integer.
func encodeUint(buf []byte, v reflect.Value) ([]byte, bool) {
	return strconv.AppendUint(buf, v.Uint(), 10), true
}

// encodeString appends a JSON string.
func encodeString(buf []byte, v reflect.Value) ([]byte, bool) {
	return appendJSONString(buf, v.String()), true
}

// encodeField is one encoded struct field.
type encodeField struct {
	key       string // `,"name":`
	index     []int
	omitEmpty bool
	enc       encodeFunc
}

// structEncoder compiles a struct: its fields (embedded structs' fields
// flattened) in declaration order.
func (c *encodeCompiler) structEncoder(t reflect.Type) encodeFunc {
	fields, ok := c.fields(t, nil, nil)
	if !ok {
		return nil
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.key] {
			return nil // encoding/json's dominance rules decide; leave it to them
		}
		seen[f.key] = true
	}
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		buf = append(buf, '{')
		first := true
		for i := range fields {
			f := &fields[i]
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			key := f.key
			if first {
				key, first = key[1:], false
			}
			buf = append(buf, key...)
			var ok bool
			if buf, ok = f.enc(buf, fv); !ok {
				return buf, false
			}
		}
		return append(buf, '}'), true
	}
}

// fields appends the encoded fields of struct t, found at index, to out.
func (c *encodeCompiler) fields(t reflect.Type, index []int, out []encodeField) ([]encodeField, bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.Anonymous && !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omitEmpty := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "", "omitempty":
				omitEmpty = omitEmpty || o != ""
			default:
				return nil, false // ,string, ,omitzero or unknown
			}
		}
		if name != "" && !simpleName(name) {
			return nil, false
		}
		idx := append(slices.Clip(index), i)
		if sf.Anonymous && name == "" {
			if sf.Type.Kind() != reflect.Struct {
				return nil, false // embedded pointers and non-structs
			}
			var ok bool
			if out, ok = c.fields(sf.Type, idx, out); !ok {
				return nil, false
			}
			continue
		}
		if !sf.IsExported() {
			return nil, false // a tagged unexported embedded field
		}
		if name == "" {
			name = sf.Name
		}
		enc := c.compile(sf.Type)
		if enc == nil {
			return nil, false
		}
		out = append(out, encodeField{key: `,"` + name + `":`, index: idx, omitEmpty: omitEmpty, enc: enc})
	}
	return out, true
}

// simpleName reports whether a json tag name uses only ASCII letters,
// digits, '_', '-' and '.', all of which encoding/json accepts as is.
// Other names are left to encoding/json.
func simpleName(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// isEmpty reports whether omitempty omits v, by encoding/json's rules.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// mapEncoder compiles a map with string keys: entries sorted by key.
func (c *encodeCompiler) mapEncoder(t reflect.Type) encodeFunc {
	if t.Key().Kind() != reflect.String {
		return nil
	}
	elem := c.compile(t.Elem())
	if elem == nil {
		return nil
	}
	if t == stringMapType {
		return encodeStringMap
	}
	vals := reflect.SliceOf(t.Elem())
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		if v.IsNil() {
			return append(buf, "null"...), true
		}
		n := v.Len()
		if n == 0 {
			return append(buf, "{}"...), true
		}
		// Copy the values into a slice: sorting needs them in hand, and
		// slice elements are addressable, as MarshalJSON via a pointer
		// wants.
		type entry struct {
			key string
			i   int
		}
		entries := make([]entry, 0, n)
		vs := reflect.MakeSlice(vals, n, n)
		k := reflect.New(t.Key()).Elem()
		var it reflect.MapIter
		it.Reset(v)
		for it.Next() {
			k.SetIterKey(&it)
			vs.Index(len(entries)).SetIterValue(&it)
			entries = append(entries, entry{k.String(), len(entries)})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		sep := byte('{')
		for _, e := range entries {
			buf = append(buf, sep)
			sep = ','
			buf = appendJSONString(buf, e.key)
			buf = append(buf, ':')
			var ok bool
			if buf, ok = elem(buf, vs.Index(e.i)); !ok {
				return buf, false
			}
		}
		return append(buf, '}'), true
	}
}

// encodeStringMap encodes a map[string]string without reflection.
func encodeStringMap(buf []byte, v reflect.Value) ([]byte, bool) {
	m := v.Interface().(map[string]string)
	if m == nil {
		return append(buf, "null"...), true
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sep := byte('{')
	for _, k := range keys {
		buf = append(buf, sep)
		sep = ','
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendJSONString(buf, m[k])
	}
	if sep == '{' {
		buf = append(buf, sep)
	}
	return append(buf, '}'), true
}

// sliceEncoder compiles a slice: null if nil, else an array.
func (c *encodeCompiler) sliceEncoder(t reflect.Type) encodeFunc {
	arr := c.arrayEncoder(t)
	if arr == nil {
		return nil
	}
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		if v.IsNil() {
			return append(buf, "null"...), true
		}
		return arr(buf, v)
	}
}

// arrayEncoder compiles an array, or a non-nil slice.
func (c *encodeCompiler) arrayEncoder(t reflect.Type) encodeFunc {
	elem := c.compile(t.Elem())
	if elem == nil {
		return nil
	}
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		buf = append(buf, '[')
		for i := range v.Len() {
			if i > 0 {
				buf = append(buf, ',')
			}
			var ok bool
			if buf, ok = elem(buf, v.Index(i)); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	}
}

// pointerEncoder compiles a pointer: null if nil, else what it points to.
func (c *encodeCompiler) pointerEncoder(t reflect.Type) encodeFunc {
	elem := c.compile(t.Elem())
	if elem == nil {
		return nil
	}
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		if v.IsNil() {
			return append(buf, "null"...), true
		}
		return elem(buf, v.Elem())
	}
}

// marshaler compiles a type implementing json.Marshaler: serde's own types
// and JSONAppenders append themselves; others have their MarshalJSON output
// appended as encoding/json would (compacted), or give up on an error.
func (c *encodeCompiler) marshaler(t reflect.Type) encodeFunc {
	own := t.PkgPath() == serdePkg && t.Implements(appenderType)
	appends := !own && t.Implements(jsonAppenderType)
	return func(buf []byte, v reflect.Value) ([]byte, bool) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(buf, "null"...), true
		}
		// Through a pointer if possible: boxing a pointer does not allocate.
		var m any
		if t.Kind() != reflect.Pointer && v.CanAddr() {
			m = v.Addr().Interface()
		} else {
			m = v.Interface()
		}
		if own {
			if out, ok := m.(jsonAppender).appendJSON(buf); ok {
				return out, true
			}
		}
		if appends {
			out, err := m.(JSONAppender).AppendJSON(buf)
			return out, err == nil
		}
		b, err := m.(json.Marshaler).MarshalJSON()
		if err != nil {
			return buf, false
		}
		if plainString(b) {
			return append(buf, b...), true
		}
		out := bytes.NewBuffer(buf)
		if json.Compact(out, b) != nil {
			return buf, false
		}
		return out.Bytes(), true
	}
}

// plainString reports whether b is a JSON string of printable ASCII without
// escapes, which encoding/json copies unchanged.
func plainString(b []byte) bool {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// hexDigits are the digits of \u00XX escapes.
const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: '"', '\\' and control characters escaped (\b \f
// \n \r \t, others as \u00XX), U+2028 and U+2029 escaped, each byte of
// invalid UTF-8 replaced by \ufffd, everything else as is.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	done := 0 // s[:done] is in buf
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[done:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, `\b`...)
			case '\f':
				buf = append(buf, `\f`...)
			case '\n':
				buf = append(buf, `\n`...)
			case '\r':
				buf = append(buf, `\r`...)
			case '\t':
				buf = append(buf, `\t`...)
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			buf = append(buf, s[done:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028':
			buf = append(buf, s[done:i]...)
			buf = append(buf, `\u2028`...)
		case r == '\u2029':
			buf = append(buf, s[done:i]...)
			buf = append(buf, `\u2029`...)
		default:
			i += n
			continue
		}
		i += n
		done = i
	}
	buf = append(buf, s[done:]...)
	return append(buf, '"')
}

// appendJSON appends t as MarshalJSON encodes it; false if t's year is out
// of range (MarshalJSON's error).
func (t Time) appendJSON(buf []byte) ([]byte, bool) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return buf, false
	}
	y, mo, d := u.Date()
	h, mi, sec := u.Clock()
	buf = append(buf, '"')
	buf = appendDigits(buf, y, 4)
	buf = append(buf, '-')
	buf = appendDigits(buf, int(mo), 2)
	buf = append(buf, '-')
	buf = appendDigits(buf, d, 2)
	buf = append(buf, 'T')
	buf = appendDigits(buf, h, 2)
	buf = append(buf, ':')
	buf = appendDigits(buf, mi, 2)
	buf = append(buf, ':')
	buf = appendDigits(buf, sec, 2)
	buf = append(buf, '.')
	buf = appendDigits(buf, u.Nanosecond(), 9)
	return append(buf, 'Z', '"'), true
}

// appendDigits appends the n low decimal digits of x >= 0, zero-padded.
func appendDigits(buf []byte, x, n int) []byte {
	start := len(buf)
	buf = append(buf, "000000000"[:n]...)
	for i := len(buf) - 1; i >= start; i-- {
		buf[i] = byte('0' + x%10)
		x /= 10
	}
	return buf
}

// appendJSON appends s as MarshalJSON encodes it, for sets of plain strings
// and ints; false for other member types.
func (s Set[T]) appendJSON(buf []byte) ([]byte, bool) {
	switch m := any(s.m).(type) {
	case map[string]struct{}:
		return appendSorted(buf, m, appendJSONString), true
	case map[int]struct{}:
		return appendSorted(buf, m, func(buf []byte, x int) []byte {
			return strconv.AppendInt(buf, int64(x), 10)
		}), true
	}
	return buf, false
}

// appendSorted appends the keys of m as a JSON array in ascending order,
// each appended by add.
func appendSorted[K cmp.Ordered](buf []byte, m map[K]struct{}, add func([]byte, K) []byte) []byte {
	var small [16]K
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '[')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = add(buf, k)
	}
	return append(buf, ']')
}
