package serde

import (
	"cmp"
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The fast decoder is an accelerator for JSON.Unmarshal. For each
// registered struct type it compiles, once, a tree of decode functions
// that fill a value in a single pass over the data, validating the JSON
// grammar of everything they read. It handles only what it can decode
// exactly as encoding/json would: structs (fields matched by exact name,
// embedded structs flattened), strings, bools, numbers, slices, maps with
// string keys, pointers, and json.Unmarshaler types (given the raw bytes of
// their value). On anything else — null, a key that is not exactly a
// field's name, a duplicate key, invalid UTF-8, a lone surrogate, a number
// that does not fit, an error from UnmarshalJSON, a syntax error, trailing
// data — it gives up, and Unmarshal decodes the data again with
// encoding/json, so results and errors are always encoding/json's. A type
// with anything the decoder does not handle (interfaces, json.Number,
// []byte, encoding.TextUnmarshaler, ",string" fields, embedded pointers,
// field name conflicts, recursion, ...) gets no fast decoder at all.

// decodeFunc decodes the JSON value at s's position into v, which is
// addressable and holds its type's zero value, and leaves s after the
// value. It returns false when the fast decoder gives up.
type decodeFunc func(s *scanner, v reflect.Value) bool

// shareLimit is the largest document whose strings the fast decoder
// slices from one copy of the whole document (one allocation instead of one
// per string). A decoded string then keeps that copy alive, so larger
// documents get a copy of each string instead.
const shareLimit = 4096

// maxSkipDepth bounds the nesting the fast decoder validates inside a
// json.Unmarshaler's value; deeper data takes the slow path, which enforces
// encoding/json's own limit.
const maxSkipDepth = 1000

var (
	stringType          = reflect.TypeFor[string]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fastDecodeHook, if set, is called after each document the fast decoder
// decodes; tests count with it.
var fastDecodeHook func()

// fastDecoders caches the compiled decoder of each struct type
// (reflect.Type → decodeFunc, nil if the type has none).
var fastDecoders sync.Map

// decodeFast decodes data, which must be one JSON object, into the struct
// p points to, and reports whether it succeeded. On false, *p may be
// partly filled and must be discarded.
func decodeFast(p reflect.Value, data []byte) (ok bool) {
	dec := fastDecoder(p.Type().Elem())
	if dec == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s := scanner{data: data}
	if len(data) <= shareLimit {
		s.all = string(data)
	}
	s.ws()
	if !dec(&s, p.Elem()) {
		return false
	}
	s.ws()
	if s.pos != len(data) {
		return false
	}
	if fastDecodeHook != nil {
		fastDecodeHook()
	}
	return true
}

// fastDecoder returns the decoder of struct type t, compiling it on first
// use, or nil if t has none.
func fastDecoder(t reflect.Type) decodeFunc {
	if d, ok := fastDecoders.Load(t); ok {
		return d.(decodeFunc)
	}
	var d decodeFunc
	// A struct that decodes itself would get its UnmarshalJSON called
	// with the whole object; leave that case to encoding/json.
	if t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshalerType) {
		d = decodeCompiler{busy: make(map[reflect.Type]bool)}.compile(t)
	}
	fastDecoders.Store(t, d)
	return d
}

// decodeCompiler builds decode functions.
type decodeCompiler struct {
	// busy holds the types being compiled, to refuse recursive types.
	busy map[reflect.Type]bool
}

// compile returns the decoder for values of type t, or nil if the fast
// decoder does not handle t.
func (c decodeCompiler) compile(t reflect.Type) decodeFunc {
	if c.busy[t] {
		return nil
	}
	c.busy[t] = true
	defer delete(c.busy, t)
	if t.Kind() == reflect.Pointer {
		// encoding/json allocates the pointer, then decodes (or calls
		// UnmarshalJSON on) the element; *T's method set is the one the
		// element's decoder checks.
		if t.Name() != "" || t.Elem().Kind() == reflect.Pointer {
			return nil
		}
		return pointerDecoder(t, c.compile(t.Elem()))
	}
	if t.Name() == "" && reflect.PointerTo(t).NumMethod() > 0 {
		// encoding/json ignores the methods of unnamed types (promoted
		// from embedded fields); do not guess.
		return nil
	}
	if t == timeType {
		return decodeTime
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nil // json.RawMessage and friends
		}
		return decodeUnmarshaler
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return decodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return decodeUint
	case reflect.Float32, reflect.Float64:
		return decodeFloat
	case reflect.String:
		if t == reflect.TypeFor[json.Number]() {
			return nil
		}
		return decodeString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 in encoding/json
		}
		return sliceDecoder(t, c.compile(t.Elem()))
	case reflect.Map:
		k := t.Key()
		if k.Kind() != reflect.String || reflect.PointerTo(k).Implements(textUnmarshalerType) {
			return nil
		}
		if k == stringType && t.Elem() == stringType {
			return stringMapDecoder(t)
		}
		return mapDecoder(t, c.compile(t.Elem()))
	case reflect.Struct:
		return c.structDecoder(t)
	}
	return nil
}

// decodeField is one JSON member of a struct, embedded structs flattened.
type decodeField struct {
	name  string
	index []int
	typ   reflect.Type
	dec   decodeFunc
}

// structDecoder returns the decoder of struct type t, or nil.
func (c decodeCompiler) structDecoder(t reflect.Type) decodeFunc {
	var fields []decodeField
	if !collectFields(t, nil, &fields, make(map[reflect.Type]bool)) || len(fields) > 64 {
		return nil
	}
	byName := make(map[string]int, len(fields))
	for i := range fields {
		f := &fields[i]
		if _, dup := byName[f.name]; dup {
			return nil // encoding/json's dominance rules decide; not us
		}
		byName[f.name] = i
		if f.dec = c.compile(f.typ); f.dec == nil {
			return nil
		}
	}
	d := &structDecoder{fields: fields, byName: byName, storedOrder: make([]int, len(fields)), storedRank: make([]int, len(fields))}
	for i := range d.storedOrder {
		d.storedOrder[i] = i
	}
	slices.SortFunc(d.storedOrder, func(a, b int) int {
		return cmp.Or(cmp.Compare(len(fields[a].name), len(fields[b].name)), strings.Compare(fields[a].name, fields[b].name))
	})
	for rank, i := range d.storedOrder {
		d.storedRank[i] = rank
	}
	return d.decode
}

// collectFields appends the JSON members of struct type t, whose fields
// are reached from the outer struct through index, the way encoding/json
// lists them. It returns false for anything whose treatment by
// encoding/json is not plain: ",string" options, tag names with unusual
// characters, unexported or pointer embedded fields, and a struct type
// embedded twice.
func collectFields(t reflect.Type, index []int, out *[]decodeField, embedded map[reflect.Type]bool) bool {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" || !sf.Anonymous && !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "string") || !plainName(name) {
			return false
		}
		at := append(index[:len(index):len(index)], i)
		if sf.Anonymous {
			if !sf.IsExported() || sf.Type.Kind() == reflect.Pointer {
				return false
			}
			if name == "" && sf.Type.Kind() == reflect.Struct {
				if embedded[sf.Type] {
					return false
				}
				embedded[sf.Type] = true
				if !collectFields(sf.Type, at, out, embedded) {
					return false
				}
				continue
			}
		}
		if name == "" {
			name = sf.Name
		}
		*out = append(*out, decodeField{name: name, index: at, typ: sf.Type})
	}
	return true
}

// plainName reports whether a tag name is empty or made of ASCII letters,
// digits, '_' and '-' only, which encoding/json takes as is.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// structDecoder decodes a JSON object into a struct.
type structDecoder struct {
	fields []decodeField
	byName map[string]int
	// storedOrder lists the fields in the order PostgreSQL's jsonb keeps
	// an object's keys, shorter names first and equal lengths bytewise,
	// which is the order a document read back from the store has;
	// storedRank is each field's place in it.
	storedOrder, storedRank []int
}

// decode decodes an object whose keys each name a distinct field exactly.
func (d *structDecoder) decode(s *scanner, v reflect.Value) bool {
	if !s.open('{') {
		return false
	}
	if s.end('}') {
		return true
	}
	var seen uint64
	// The fields most likely to come next: encoders keep the struct's
	// order, and documents read back from jsonb have jsonb's. A miss
	// looks the name up.
	next, nextStored := 0, 0
	for {
		name, ok := s.name()
		if !ok {
			return false
		}
		i := next
		if i >= len(d.fields) || d.fields[i].name != string(name) {
			if nextStored < len(d.storedOrder) && d.fields[d.storedOrder[nextStored]].name == string(name) {
				i = d.storedOrder[nextStored]
			} else if i, ok = d.byName[string(name)]; !ok {
				return false
			}
		}
		if seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		next, nextStored = i+1, d.storedRank[i]+1
		f := &d.fields[i]
		fv := v
		for _, x := range f.index {
			fv = fv.Field(x)
		}
		if !f.dec(s, fv) {
			return false
		}
		if more, ok := s.more('}'); !ok || !more {
			return ok
		}
	}
}

// sliceDecoder returns the decoder of slice type t with element decoder
// elem, or nil if elem is nil.
func sliceDecoder(t reflect.Type, elem decodeFunc) decodeFunc {
	if elem == nil {
		return nil
	}
	return func(s *scanner, v reflect.Value) bool {
		if !s.open('[') {
			return false
		}
		if s.end(']') {
			v.Set(reflect.MakeSlice(t, 0, 0)) // [] is empty, not nil
			return true
		}
		for i := 0; ; i++ {
			// Grow as encoding/json does.
			if i >= v.Cap() {
				v.Grow(1)
			}
			v.SetLen(i + 1)
			s.ws()
			if !elem(s, v.Index(i)) {
				return false
			}
			if more, ok := s.more(']'); !ok || !more {
				return ok
			}
		}
	}
}

// mapDecoder returns the decoder of map type t, whose key kind is string,
// with element decoder elem, or nil if elem is nil.
func mapDecoder(t reflect.Type, elem decodeFunc) decodeFunc {
	if elem == nil {
		return nil
	}
	return func(s *scanner, v reflect.Value) bool {
		if !s.open('{') {
			return false
		}
		m := reflect.MakeMap(t)
		v.Set(m)
		if s.end('}') {
			return true
		}
		key := reflect.New(t.Key()).Elem()
		val := reflect.New(t.Elem()).Elem()
		for {
			s.ws()
			k, ok := s.string()
			if !ok || !s.open(':') {
				return false
			}
			s.ws()
			val.SetZero()
			if !elem(s, val) {
				return false
			}
			key.SetString(k)
			n := m.Len()
			if m.SetMapIndex(key, val); m.Len() == n {
				return false // a duplicate key
			}
			if more, ok := s.more('}'); !ok || !more {
				return ok
			}
		}
	}
}

// stringMapDecoder returns the decoder of t, a map[string]string or a
// named type of it (event metadata): mapDecoder without reflection per
// member.
func stringMapDecoder(t reflect.Type) decodeFunc {
	return func(s *scanner, v reflect.Value) bool {
		m, ok := s.stringMap()
		if ok {
			v.Set(reflect.ValueOf(m).Convert(t))
		}
		return ok
	}
}

// pointerDecoder returns the decoder of pointer type t with element
// decoder elem, or nil if elem is nil.
func pointerDecoder(t reflect.Type, elem decodeFunc) decodeFunc {
	if elem == nil {
		return nil
	}
	return func(s *scanner, v reflect.Value) bool {
		p := reflect.New(t.Elem())
		if !elem(s, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	}
}

var timeType = reflect.TypeFor[Time]()

// decodeTime decodes a Time. A plain string in TimeLayout (how the store
// writes every Time) is read digit by digit; anything else is left to
// Time's UnmarshalJSON, which decides it, as decodeUnmarshaler does.
func decodeTime(s *scanner, v reflect.Value) bool {
	const n = len(TimeLayout)
	if d, p := s.data, s.pos; p+n+2 <= len(d) && d[p] == '"' && d[p+n+1] == '"' {
		if t, ok := parseTimeLayout(d[p+1 : p+1+n]); ok {
			if dst, ok := reflect.TypeAssert[*Time](v.Addr()); ok {
				s.pos = p + n + 2
				*dst = t
				return true
			}
		}
	}
	return decodeUnmarshaler(s, v)
}

// parseTimeLayout parses b if it is exactly a valid time in TimeLayout
// ("2006-01-02T15:04:05.000000000Z"), to the Time UnmarshalText gives for
// it; ok is false for anything else, valid or not.
func parseTimeLayout(b []byte) (t Time, ok bool) {
	if len(b) != len(TimeLayout) || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || b[19] != '.' || b[29] != 'Z' {
		return Time{}, false
	}
	num := func(from, to int) int {
		v := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
		sec < 0 || sec > 59 || nsec < 0 {
		return Time{}, false
	}
	// The last day of the month: day 0 of the next.
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return Time{}, false
	}
	return Time{time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)}, true
}

// decodeUnmarshaler calls v's UnmarshalJSON with the bytes of the value.
func decodeUnmarshaler(s *scanner, v reflect.Value) bool {
	start := s.pos
	if !s.skip(0) {
		return false
	}
	u, ok := reflect.TypeAssert[json.Unmarshaler](v.Addr())
	return ok && u.UnmarshalJSON(s.data[start:s.pos:s.pos]) == nil
}

// decodeString decodes a JSON string into a string kind.
func decodeString(s *scanner, v reflect.Value) bool {
	str, ok := s.string()
	if ok {
		v.SetString(str)
	}
	return ok
}

// decodeBool decodes true or false into a bool kind.
func decodeBool(s *scanner, v reflect.Value) bool {
	switch {
	case s.literal("true"):
		v.SetBool(true)
	case s.literal("false"):
		v.SetBool(false)
	default:
		return false
	}
	return true
}

// decodeInt decodes an integer that fits into a signed integer kind.
func decodeInt(s *scanner, v reflect.Value) bool {
	n, ok := s.int()
	if !ok || v.OverflowInt(n) {
		return false
	}
	v.SetInt(n)
	return true
}

// decodeUint decodes a non-negative integer that fits into an unsigned
// integer kind.
func decodeUint(s *scanner, v reflect.Value) bool {
	n, neg, ok := s.digits()
	if !ok || neg || v.OverflowUint(n) {
		return false
	}
	v.SetUint(n)
	return true
}

// decodeFloat decodes a number into a float kind, as encoding/json does.
func decodeFloat(s *scanner, v reflect.Value) bool {
	lit, _, ok := s.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(lit), v.Type().Bits())
	if err != nil || v.OverflowFloat(f) {
		return false
	}
	v.SetFloat(f)
	return true
}

// scanner reads JSON for the fast decoder. Its methods validate what they
// consume and return false on invalid JSON and on anything the fast
// decoder leaves to encoding/json.
type scanner struct {
	data []byte
	pos  int
	// all is a string copy of data that values without escapes are sliced
	// from ("": each value is a copy of its own; see string).
	all string
}

// ws skips whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// open skips whitespace and consumes c, reporting whether it was there.
func (s *scanner) open(c byte) bool {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// end consumes whitespace and c if c comes next (an empty object or
// array), and reports whether it did.
func (s *scanner) end(c byte) bool {
	at := s.pos
	if s.open(c) {
		return true
	}
	s.pos = at
	return false
}

// more consumes the ',' or the closing byte c after a member: more is true
// after a ','; ok is false if neither comes next.
func (s *scanner) more(c byte) (more, ok bool) {
	s.ws()
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ',':
			s.pos++
			return true, true
		case c:
			s.pos++
			return false, true
		}
	}
	return false, false
}

// name consumes an object key without escapes, the ':' after it and the
// whitespace after that, and returns the key's bytes (which alias data).
func (s *scanner) name() ([]byte, bool) {
	if !s.open('"') {
		return nil, false
	}
	start := s.pos
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			if !s.open(':') {
				return nil, false
			}
			s.ws()
			return s.data[start:i], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// string consumes a JSON string and returns its value: a slice of s.all
// when s.all is set and the value has no escapes, a new string otherwise.
func (s *scanner) string() (string, bool) {
	start := s.pos + 1
	raw, escaped, ok := s.rawString()
	switch {
	case !ok:
		return "", false
	case escaped:
		return unescape(raw), true
	case s.all != "":
		return s.all[start : start+len(raw)], true
	}
	return string(raw), true
}

// rawString consumes a JSON string and returns the bytes between its
// quotes, and whether they hold escapes. It refuses control characters,
// bad escapes, lone surrogates and invalid UTF-8 (which encoding/json
// would replace with U+FFFD).
func (s *scanner) rawString() (raw []byte, escaped, ok bool) {
	d := s.data
	if s.pos >= len(d) || d[s.pos] != '"' {
		return nil, false, false
	}
	start := s.pos + 1
	ascii := true
	for i := start; i < len(d); {
		switch c := d[i]; {
		case c == '"':
			raw = d[start:i]
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			s.pos = i + 1
			return raw, escaped, true
		case c == '\\':
			n := escapeLen(d[i:])
			if n == 0 {
				return nil, false, false
			}
			escaped = true
			i += n
		case c < 0x20:
			return nil, false, false
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			i++
		}
	}
	return nil, false, false
}

// escapeLen returns the length of the valid escape sequence b starts with
// (a surrogate pair counts as one), or 0.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		r, ok := hex4(b[2:])
		switch {
		case !ok:
			return 0
		case utf16.IsSurrogate(r):
			if r >= 0xdc00 || len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
				return 0
			}
			if r2, ok := hex4(b[8:]); !ok || r2 < 0xdc00 || r2 > 0xdfff {
				return 0
			}
			return 12
		}
		return 6
	}
	return 0
}

// hex4 decodes the four hex digits b starts with.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape returns the value of raw, string contents that rawString
// validated.
func unescape(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch c = raw[i+1]; c {
		case 'u':
			r, _ := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw[i+2:])
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			b.WriteRune(r)
			continue
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String()
}

// literal consumes word (true or false) if it comes next.
func (s *scanner) literal(word string) bool {
	if end := s.pos + len(word); end <= len(s.data) && string(s.data[s.pos:end]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// number consumes a JSON number and returns its bytes, and whether it is
// an integer (no fraction or exponent).
func (s *scanner) number() (lit []byte, isInt, ok bool) {
	d, i := s.data, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = skipDigits(d, i)
	default:
		return nil, false, false
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		if j := skipDigits(d, i+1); j > i+1 {
			i = j
		} else {
			return nil, false, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if j := skipDigits(d, i); j > i {
			i = j
		} else {
			return nil, false, false
		}
	}
	lit, s.pos = d[s.pos:i], i
	return lit, isInt, true
}

// skipDigits returns the index of the first non-digit in d at or after i.
func skipDigits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// digits consumes a JSON integer of at most 19 digits and returns its
// magnitude and sign.
func (s *scanner) digits() (n uint64, neg, ok bool) {
	lit, isInt, ok := s.number()
	if !ok || !isInt {
		return 0, false, false
	}
	if lit[0] == '-' {
		neg, lit = true, lit[1:]
	}
	if len(lit) > 19 { // 19 digits cannot overflow a uint64
		return 0, false, false
	}
	for _, c := range lit {
		n = n*10 + uint64(c-'0')
	}
	return n, neg, true
}

// int consumes a JSON integer that fits an int64.
func (s *scanner) int() (int64, bool) {
	n, neg, ok := s.digits()
	switch {
	case !ok:
		return 0, false
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n <= math.MaxInt64:
		return int64(n), true
	}
	return 0, false
}

// skip consumes any JSON value but null, nested at most maxSkipDepth
// deep, validating it.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth || s.pos >= len(s.data) {
		return false
	}
	switch s.data[s.pos] {
	case '{':
		s.pos++
		if s.end('}') {
			return true
		}
		for {
			s.ws()
			if _, _, ok := s.rawString(); !ok || !s.open(':') {
				return false
			}
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			if more, ok := s.more('}'); !ok || !more {
				return ok
			}
		}
	case '[':
		s.pos++
		if s.end(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			if more, ok := s.more(']'); !ok || !more {
				return ok
			}
		}
	case '"':
		_, _, ok := s.rawString()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	}
	_, _, ok := s.number()
	return ok
}

// unquotePlain returns the contents of data if data is exactly one JSON
// string without escapes or control characters and with valid UTF-8: the
// case where the contents are the string's value.
func unquotePlain(data []byte) ([]byte, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return nil, false
	}
	raw := data[1 : len(data)-1]
	ascii := true
	for _, c := range raw {
		if c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return raw, ascii || utf8.Valid(raw)
}

// decodeStrings replaces s's members with those of data if T is string and
// data is a JSON array of distinct strings, and reports whether it did. It
// leaves everything else, and the wording of errors, to UnmarshalJSON.
func (s *Set[T]) decodeStrings(data []byte) bool {
	var out Set[T]
	m, ok := any(&out.m).(*map[string]struct{})
	if !ok {
		return false
	}
	sc := scanner{data: data}
	if !sc.open('[') {
		return false
	}
	for more := !sc.end(']'); more; {
		sc.ws()
		str, ok := sc.string()
		if !ok {
			return false
		}
		if *m == nil {
			*m = make(map[string]struct{})
		}
		n := len(*m)
		if (*m)[str] = struct{}{}; len(*m) == n {
			return false // a duplicate member
		}
		if more, ok = sc.more(']'); !ok {
			return false
		}
	}
	sc.ws()
	if sc.pos != len(data) {
		return false
	}
	*s = out
	return true
}
