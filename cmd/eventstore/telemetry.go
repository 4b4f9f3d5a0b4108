package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// telemetry is the CLI's OpenTelemetry: a tracer provider when
// OTEL_TRACES_EXPORTER names an exporter, a meter provider when
// OTEL_METRICS_EXPORTER does or --metrics-addr is given, and the /metrics
// server of --metrics-addr. With none of them, every store runs without
// instrumentation.
type telemetry struct {
	cfg      otelstore.Config
	tracing  bool // spans are exported
	metering bool // metrics are read
	obs      *otelstore.Observer
	shutdown []func(context.Context) error
}

// telemetryShutdownTimeout bounds the final export and the /metrics
// server's shutdown.
const telemetryShutdownTimeout = 5 * time.Second

// metricsFlag adds --metrics-addr to a long-running command.
func metricsFlag(fs *flag.FlagSet, c *cmdContext) {
	fs.StringVar(&c.metricsAddr, "metrics-addr", c.metricsAddr,
		"serve Prometheus metrics on http://HOST:PORT/metrics while the command runs (PORT 0: any free port)")
}

// telemetry sets up OpenTelemetry once, from the OTEL_* variables and
// --metrics-addr. It is called before the first connection, so the pool's
// SQL round trips can be traced.
func (c *cmdContext) telemetry(ctx context.Context) (*telemetry, error) {
	if c.tel != nil {
		return c.tel, nil
	}
	t := &telemetry{}
	if err := t.setup(ctx, c); err != nil {
		_ = t.close()
		return nil, err
	}
	c.tel = t
	return t, nil
}

func (t *telemetry) setup(ctx context.Context, c *cmdContext) error {
	getenv := c.env.Getenv
	disabled := strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true")
	traces := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	metrics := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER"))
	exportTraces := !disabled && traces != "" && traces != "none"
	exportMetrics := !disabled && metrics != "" && metrics != "none"
	if !exportTraces && !exportMetrics && c.metricsAddr == "" {
		return nil
	}
	// service.name defaults to "eventstore"; OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES override it.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "eventstore")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	if exportTraces {
		// The exporter reads its settings (OTEL_EXPORTER_OTLP_*, …) itself.
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return fmt.Errorf("OTEL_TRACES_EXPORTER=%s: %w", traces, err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		t.shutdown = append(t.shutdown, tp.Shutdown)
		t.cfg.TracerProvider = tp
		t.tracing = true
	}
	var readers []sdkmetric.Option
	if exportMetrics {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return fmt.Errorf("OTEL_METRICS_EXPORTER=%s: %w", metrics, err)
		}
		readers = append(readers, sdkmetric.WithReader(r))
	}
	if c.metricsListener != nil {
		r, err := t.serveMetrics(c.metricsListener)
		if err != nil {
			return err
		}
		readers = append(readers, sdkmetric.WithReader(r))
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		// Shut down before the tracer provider, so that the final metric
		// export's reads make no spans after it.
		t.shutdown = append([]func(context.Context) error{mp.Shutdown}, t.shutdown...)
		t.cfg.MeterProvider = mp
		t.metering = true
	}
	t.obs, err = otelstore.NewObserver(t.cfg)
	return err
}

// serveMetrics serves /metrics on l from a Prometheus registry fed by the
// OpenTelemetry meter provider (plus the Go runtime and process
// collectors), and returns the reader to add to the provider.
func (t *telemetry) serveMetrics(l net.Listener) (sdkmetric.Reader, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }() // ends with Shutdown
	t.shutdown = append(t.shutdown, srv.Shutdown)
	return exp, nil
}

// observer returns the store Observer to use: nil (the store's default)
// when nothing is exported.
func (t *telemetry) observer() store.Observer {
	if t == nil || t.obs == nil {
		return nil
	}
	return t.obs
}

// installTracer instruments the SQL round trips of pools made from cfg
// when spans are exported (child spans of the store operations) or metrics
// read (otelpgx's db.client.operation.duration).
func (t *telemetry) installTracer(cfg *pgxpool.Config) {
	if t != nil && (t.tracing || t.metering) {
		otelstore.InstallTracer(cfg, t.cfg)
	}
}

// instrument registers s's feed and subscription lag gauges when metrics
// are read. They are unregistered when the meter provider shuts down.
func (t *telemetry) instrument(s *store.Store) error {
	if t == nil || !t.metering {
		return nil
	}
	_, err := otelstore.RegisterLag(s, t.cfg)
	return err
}

// close flushes and stops the providers and the /metrics server.
func (t *telemetry) close() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdownTimeout)
	defer cancel()
	var errs []error
	for _, fn := range t.shutdown {
		errs = append(errs, fn(ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}

// listenMetrics checks --metrics-addr and listens on it, so that a bad
// address fails the command before it does anything else. It tells on
// stderr where the metrics are served.
func (c *cmdContext) listenMetrics(command string) error {
	if c.metricsAddr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.metricsAddr)
	if err != nil {
		return usagef("--metrics-addr %q: want HOST:PORT, such as 127.0.0.1:9464 or :9464", c.metricsAddr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("--metrics-addr %q: port %q is not a number from 0 to 65535", c.metricsAddr, port)
	}
	l, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %s: %w", c.metricsAddr, err)
	}
	c.metricsListener = l
	if host == "" {
		host = "0.0.0.0"
	}
	_, port, _ = net.SplitHostPort(l.Addr().String())
	fmt.Fprintf(c.env.Stderr, "eventstore %s: serving metrics on http://%s/metrics\n", command, net.JoinHostPort(host, port))
	return nil
}
