package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// prefillChunk is the number of events one prefill statement inserts.
const prefillChunk = 500_000

// prefill loads n events, in games of 1000 guess_processed events, into
// eventstore.events (with their stream rows) and the same rows into the
// twin table, then vacuums and analyzes both, so the scenarios measure a
// store that already holds n events. The rows are generated in SQL from one
// serialized event, so loading millions takes seconds, not an append run.
func (r *runner) prefill(ctx context.Context, n int64) error {
	start := time.Now()
	data, err := r.ser.Marshal(GuessEvent("prefill", 7))
	if err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	meta, err := json.Marshal(map[string]string{"command_id": "3f1c0d7e-8a55-4c1e-9a63-2b7f6f0d9e41", "user_id": "318472993561247101"})
	if err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	prefix := r.tag + "-prefill-"
	streams := (n + eventsPerStream - 1) / eventsPerStream
	_, err = r.pool.Exec(ctx, `INSERT INTO eventstore.streams (stream_id, guild_id, version)
SELECT $1::text || g, $2::text, least($3::bigint - g * $4::bigint, $4::bigint)
  FROM generate_series(0, $5::bigint - 1) AS g`, prefix, Guild, n, eventsPerStream, streams)
	if err != nil {
		return fmt.Errorf("prefill streams: %w", err)
	}
	for _, table := range []string{"eventstore.events", twinSchema + ".events"} {
		for lo := int64(0); lo < n; lo += prefillChunk {
			hi := min(n, lo+prefillChunk)
			// Event ids are ordered (like the UUIDv7 ids the store makes) and
			// below every id the run creates later.
			_, err := r.pool.Exec(ctx, `INSERT INTO `+table+`
       (stream_id, stream_version, event_id, event_type, event_version, guild_id, data, metadata, correlation_id)
SELECT $1::text || (i / $2::bigint), i % $2::bigint + 1,
       ('00000000' || lpad(to_hex(i), 24, '0'))::uuid, 'guess_processed', 1, $3::text,
       jsonb_set($4::jsonb, '{game_id}', to_jsonb($1::text || (i / $2::bigint))), $5::jsonb,
       ('00000001' || lpad(to_hex(i / 40), 24, '0'))::uuid
  FROM generate_series($6::bigint, $7::bigint - 1) AS i`,
				prefix, eventsPerStream, Guild, data, meta, lo, hi)
			if err != nil {
				return fmt.Errorf("prefill %s: %w", table, err)
			}
			r.logf("prefill: %s: %d of %d events", table, hi, n)
		}
	}
	if _, err := r.pool.Exec(ctx, `VACUUM (ANALYZE) eventstore.streams, eventstore.events, `+twinSchema+`.events`); err != nil {
		return fmt.Errorf("prefill vacuum: %w", err)
	}
	r.logf("prefill: %d events in %.1fs", n, time.Since(start).Seconds())
	return nil
}
