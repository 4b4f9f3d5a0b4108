package translator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Translate converts data, a JSON object stored as version from of typ,
// into version to by applying the migrations on Path(typ, from, to) in
// order. When from == to, data is returned unchanged without consulting
// the graph. Path errors are returned as Path returns them; data that is
// not a JSON object wraps ErrMigrationFailed; a failing step is a
// *MigrationError. The result is encoded with sorted keys and without HTML
// escaping. Migrations run outside the Translator's lock, and a panic in
// one is returned as a *MigrationError.
func (t *Translator) Translate(typ string, from, to int, data []byte) ([]byte, error) {
	if from == to {
		return data, nil
	}
	path, fns, err := t.route(typ, from, to)
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d to v%d: input: %w", ErrMigrationFailed, typ, from, to, err)
	}
	for i, fn := range fns {
		data, err = step(fn, obj)
		if err == nil && i < len(fns)-1 {
			// Hand the next step exactly what decoding stored JSON gives.
			obj, err = decodeObject(data)
		}
		if err != nil {
			return nil, &MigrationError{Type: typ, From: from, To: to, Path: path, Step: i, Err: err}
		}
	}
	return data, nil
}

// route returns the path and the migrations along it.
func (t *Translator) route(typ string, from, to int) ([]int, []MigrationFunc, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	g, path, err := t.path(typ, from, to)
	if err != nil {
		return nil, nil, err
	}
	fns := make([]MigrationFunc, len(path)-1)
	for i := range fns {
		fns[i] = g.edges[path[i]][path[i+1]]
	}
	return path, fns, nil
}

// step runs one migration and encodes its result.
func step(fn MigrationFunc, obj map[string]any) (out []byte, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			out, err = nil, fmt.Errorf("panic: %v", rec)
		}
	}()
	res, err := fn(obj)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, errors.New("migration returned nil")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeObject decodes one JSON object, numbers as json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}
