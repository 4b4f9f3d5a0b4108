package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// copyRows writes rows into the twin table with one COPY (its own
// transaction).
func (r *runner) copyRows(ctx context.Context, rows [][]any) error {
	n, err := r.pool.CopyFrom(ctx, pgx.Identifier{twinSchema, "events"}, twinColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("baseline copy: %w", err)
	}
	if int(n) != len(rows) {
		return fmt.Errorf("baseline copy: %d of %d rows written", n, len(rows))
	}
	return nil
}

// insertRows writes rows into the twin table with one multi-row INSERT (its
// own transaction); q is insertSQL(len(rows)).
func (r *runner) insertRows(ctx context.Context, q string, rows [][]any) error {
	args := make([]any, 0, len(rows)*len(twinColumns))
	for _, row := range rows {
		args = append(args, row...)
	}
	tag, err := r.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("baseline insert: %w", err)
	}
	if int(tag.RowsAffected()) != len(rows) {
		return fmt.Errorf("baseline insert: %d of %d rows written", tag.RowsAffected(), len(rows))
	}
	return nil
}

// insertSQL returns the INSERT statement of n rows into the twin table.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + twinSchema + ".events (" + strings.Join(twinColumns, ", ") + ") VALUES ")
	k := 1
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range twinColumns {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", k)
			k++
		}
		b.WriteByte(')')
	}
	return b.String()
}
