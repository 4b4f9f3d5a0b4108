package serde

import (
	"reflect"
	"sync/atomic"
)

// fastDecodes counts the documents the fast decoder decoded.
var fastDecodes atomic.Int64

func init() { fastDecodeHook = func() { fastDecodes.Add(1) } }

// FastDecodes returns how many documents the fast decoder has decoded in
// this test binary.
func FastDecodes() int64 { return fastDecodes.Load() }

// UnmarshalSlow is Unmarshal with encoding/json only: the reference the
// fast decoder is compared against.
func (j *JSON) UnmarshalSlow(typ string, version int, data []byte) (Event, error) {
	return j.unmarshal(typ, version, data, false)
}

// DecodesFast reports whether the fast decoder alone decodes data into the
// Go type registered for (typ, version).
func (j *JSON) DecodesFast(typ string, version int, data []byte) bool {
	e, ok := j.reg.lookup(TypeVersion{typ, version})
	return ok && decodeFast(reflect.New(e.elem), data)
}
