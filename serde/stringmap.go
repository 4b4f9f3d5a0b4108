package serde

// AppendJSONString appends s to buf as a JSON string, escaped exactly as
// encoding/json escapes it with HTML escaping off.
func AppendJSONString(buf []byte, s string) []byte { return appendJSONString(buf, s) }

// DecodeStringMap decodes data when it is a JSON object whose values are
// all strings (the shape of event metadata) into the map encoding/json
// would give. It reports false for anything else — other value types, a
// duplicate key, invalid UTF-8, a lone surrogate, a syntax error, trailing
// data — which the caller then decodes with encoding/json.
func DecodeStringMap(data []byte) (map[string]string, bool) {
	s := scanner{data: data}
	// Unescaped keys and values are slices of one copy of data (up to
	// shareLimit bytes): one string allocation per object instead of one
	// per key and value.
	if len(data) <= shareLimit {
		s.all = string(data)
	}
	m, ok := s.stringMap()
	s.ws()
	return m, ok && s.pos == len(data)
}

// stringMap consumes a JSON object whose values are all strings, with no
// duplicate key, and returns it as a map.
func (s *scanner) stringMap() (map[string]string, bool) {
	if !s.open('{') {
		return nil, false
	}
	m := make(map[string]string)
	if s.end('}') {
		return m, true
	}
	for {
		s.ws()
		k, ok := s.string()
		if !ok || !s.open(':') {
			return nil, false
		}
		s.ws()
		v, ok := s.string()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = v
		if more, ok := s.more('}'); !ok || !more {
			return m, ok
		}
	}
}

// LookupMember finds the member key of the JSON object data without
// decoding the rest of it. text is the member's value: the string itself
// when it is a JSON string, else its JSON text as written in data. found
// is false when the object has no such member; ok is false when data is
// not a well-formed object as far as the scan went, or when key occurs
// twice (the caller then decodes data in full to learn what it holds).
func LookupMember(data []byte, key string) (text string, found, ok bool) {
	s := scanner{data: data}
	s.ws()
	if !s.open('{') {
		return "", false, false
	}
	if s.end('}') {
		s.ws()
		return "", false, s.pos == len(data)
	}
	for {
		s.ws()
		k, escaped, ok := s.rawString()
		if !ok || !s.open(':') {
			return "", false, false
		}
		match := string(k) == key
		if escaped {
			match = unescape(k) == key
		}
		s.ws()
		start := s.pos
		if match {
			if found {
				return "", false, false
			}
			if start < len(data) && data[start] == '"' {
				if text, ok = s.string(); !ok {
					return "", false, false
				}
			} else {
				if !s.skipValue() {
					return "", false, false
				}
				text = string(data[start:s.pos])
			}
			found = true
		} else if !s.skipValue() {
			return "", false, false
		}
		more, ok := s.more('}')
		if !ok {
			return "", false, false
		}
		if !more {
			s.ws()
			if s.pos != len(data) {
				return "", false, false
			}
			return text, found, true
		}
	}
}

// skipValue consumes any JSON value, null included.
func (s *scanner) skipValue() bool {
	if s.pos < len(s.data) && s.data[s.pos] == 'n' {
		return s.literal("null")
	}
	return s.skip(0)
}
