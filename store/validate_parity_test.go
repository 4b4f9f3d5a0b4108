package store_test

import (
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// TestNameRuleMatchesSQL: the Go name rule (ValidateGuildID, ValidateStreamID) and SQL's
// eventstore.name_problem agree on every code point PostgreSQL can store,
// alone, inside a name and at either end.
func TestNameRuleMatchesSQL(t *testing.T) {
	refused := func(s string) bool { return store.ValidateGuildID(s) != nil }
	t.Parallel()
	pool := testdb.New(t)
	type verdict struct{ alone, inside, end, start bool }
	sqlRefused := map[rune]verdict{}
	rows, err := pool.Query(t.Context(), `
		SELECT cp,
		       eventstore.name_problem(chr(cp), 100) IS NOT NULL,
		       eventstore.name_problem('a' || chr(cp) || 'b', 100) IS NOT NULL,
		       eventstore.name_problem('a' || chr(cp), 100) IS NOT NULL,
		       eventstore.name_problem(chr(cp) || 'a', 100) IS NOT NULL
		  FROM generate_series(1, 1114111) AS cp
		 WHERE cp NOT BETWEEN 55296 AND 57343`)
	require.NoError(t, err)
	for rows.Next() {
		var cp int32
		var v verdict
		require.NoError(t, rows.Scan(&cp, &v.alone, &v.inside, &v.end, &v.start))
		if v.alone || v.inside || v.end || v.start {
			sqlRefused[rune(cp)] = v
		}
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, sqlRefused)
	mismatches := 0
	for r := rune(1); r <= utf8.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		c := string(r)
		goV := verdict{refused(c), refused("a" + c + "b"), refused("a" + c), refused(c + "a")}
		if goV != sqlRefused[r] {
			mismatches++
			if mismatches < 10 {
				t.Errorf("U+%04X: Go refuses %+v, SQL refuses %+v", r, goV, sqlRefused[r])
			}
		}
	}
	require.Zero(t, mismatches, "the Go and SQL name rules disagree")
	for _, id := range []string{" x", "x ", "a\u200bb", "\ufeffx", "a\u202eb", "x\u00a0", "\tx", "a\nb", "$x", ""} {
		require.ErrorIs(t, store.ValidateStreamID(id), store.ErrInvalidStreamID, fmt.Sprintf("%q", id))
	}
	require.NoError(t, store.ValidateStreamID("game-42 round 1"))
	require.NoError(t, store.ValidateStreamID("jeu-é-ü-日本"))
}
