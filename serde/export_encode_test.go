package serde

import (
	"reflect"
	"sync/atomic"
)

// fastEncodes counts the successful fast encodes of the test binary.
var fastEncodes atomic.Int64

func init() { fastEncodeHook = func() { fastEncodes.Add(1) } }

// FastEncodes returns how many encodes the fast encoder has completed.
func FastEncodes() int64 { return fastEncodes.Load() }

// FastEncode encodes a copy of the struct (or pointer to struct) v with the
// fast encoder alone; false if it gave up.
func FastEncode(v any) ([]byte, bool) {
	return fastEncode(addressable(v).Elem())
}

// SlowEncode encodes v as Marshal does without the fast encoder: encodeJSON
// of a pointer to a copy of v, then CheckObject.
func SlowEncode(v any) ([]byte, error) {
	b, err := encodeJSON(addressable(v).Interface())
	if err == nil {
		err = CheckObject(b)
	}
	return b, err
}

// addressable returns a pointer to a new copy of the struct v or *v.
func addressable(v any) reflect.Value {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return p
}
