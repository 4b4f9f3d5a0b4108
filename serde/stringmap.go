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
