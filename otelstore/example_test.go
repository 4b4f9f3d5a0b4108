package otelstore_test

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Wiring a store to OpenTelemetry: SQL spans on the pool, spans and metrics
// per operation on the store, lag gauges read at each collection.
func Example() {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider() // add an exporter: sdktrace.WithBatcher(…)
	mp := sdkmetric.NewMeterProvider() // add a reader: sdkmetric.WithReader(…)
	defer func() { _ = tp.Shutdown(ctx); _ = mp.Shutdown(ctx) }()
	cfg := otelstore.Config{
		TracerProvider: tp,
		MeterProvider:  mp,
		Next:           store.NewLogObserver(slog.Default()), // keep the store's logs
	}

	poolCfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	otelstore.InstallTracer(poolCfg, cfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	obs, err := otelstore.NewObserver(cfg)
	if err != nil {
		log.Fatal(err)
	}
	s := store.New(pool, store.Config{Observer: obs})
	defer s.Close()

	reg, err := otelstore.RegisterLag(s, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()
}
