package otelstore

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InstallTracer makes every SQL round trip of cfg's connections a child
// span of the span current at the time (a store operation's, when the
// Observer is the store's), using github.com/exaring/otelpgx with cfg's
// providers. It also records otelpgx's db.client.operation.duration
// histogram. Statements are recorded without their arguments. A tracer
// already installed on the pool configuration (such as a store.Tracer)
// keeps working alongside it. Call it before creating the pool.
func InstallTracer(poolCfg *pgxpool.Config, cfg Config) {
	t := otelpgx.NewTracer(
		otelpgx.WithTracerProvider(cfg.tracerProvider()),
		otelpgx.WithMeterProvider(cfg.meterProvider()),
	)
	if poolCfg.ConnConfig.Tracer != nil {
		poolCfg.ConnConfig.Tracer = multitracer.New(poolCfg.ConnConfig.Tracer, t)
		return
	}
	poolCfg.ConnConfig.Tracer = t
}
