package translator_test

import (
	"errors"
	"testing"

	"github.com/gamebot/eventstore/translator"
	"github.com/stretchr/testify/require"
)

func TestMigrationError(t *testing.T) {
	t.Parallel()
	cause := errors.New("bad data")
	tests := []struct {
		name string
		err  *translator.MigrationError
		want string
	}{
		{
			name: "with path",
			err:  &translator.MigrationError{Type: "t", From: 1, To: 3, Path: []int{1, 2, 3}, Step: 1, Err: cause},
			want: "migration failed: t v1 to v3 (step 2: v2 to v3): bad data",
		},
		{
			name: "without path",
			err:  &translator.MigrationError{Type: "t", From: 1, To: 3, Step: 0, Err: cause},
			want: "migration failed: t v1 to v3: bad data",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.EqualError(t, tt.err, tt.want)
			require.ErrorIs(t, tt.err, translator.ErrMigrationFailed)
			require.ErrorIs(t, tt.err, cause)
			require.NotErrorIs(t, tt.err, translator.ErrNoPath)
		})
	}
}
