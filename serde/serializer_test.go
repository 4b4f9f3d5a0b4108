package serde_test

import (
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func TestCheckObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{name: "empty object", data: `{}`},
		{name: "object", data: `{"a":[1,{"b":null}]}`},
		{name: "white space around", data: " \t\r\n{} \n"},
		{name: "empty", data: ``, wantErr: "not valid JSON"},
		{name: "only white space", data: "  ", wantErr: "not valid JSON"},
		{name: "truncated", data: `{"a":`, wantErr: "not valid JSON"},
		{name: "two objects", data: `{}{}`, wantErr: "not valid JSON"},
		{name: "array", data: `[{}]`, wantErr: "not a JSON object"},
		{name: "string holding a brace", data: `"{"`, wantErr: "not a JSON object"},
		{name: "number", data: `1`, wantErr: "not a JSON object"},
		{name: "null", data: `null`, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := serde.CheckObject([]byte(tt.data))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
