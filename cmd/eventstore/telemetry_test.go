package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// parseMetrics parses the Prometheus text exposition format, with the
// classic (strictest) name rules.
func parseMetrics(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(r)
	require.NoError(t, err)
	return families
}

// scrape GETs a /metrics URL and parses it; it fails (returns nil) while
// the server does not answer.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	return parseMetrics(t, resp.Body)
}

// value returns the value of the sample of family name whose labels include
// labels (name=value pairs), and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

var servingRE = regexp.MustCompile(`serving metrics on (http://\S+/metrics)`)

// startCLI runs the CLI in the background until ctx is cancelled or it
// ends; wait returns its exit code.
func startCLI(ctx context.Context, args ...string) (stdout, stderr *syncBuffer, wait func() int) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
			Getenv: func(string) string { return "" }})
	}()
	var once sync.Once
	code := 0
	return stdout, stderr, func() int {
		once.Do(func() {
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				code = -1
			}
		})
		return code
	}
}

// metricsURL waits for the line that says where the metrics are served.
func metricsURL(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	var url string
	require.Eventually(t, func() bool {
		m := servingRE.FindStringSubmatch(stderr.String())
		if m == nil {
			return false
		}
		url = m[1]
		return true
	}, 20*time.Second, 5*time.Millisecond, "no 'serving metrics on' line: %s", stderr.String())
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	return url
}

// subscriptionBehind creates the persistent subscription name on stream,
// lets it handle the stream's events, stops it and appends n more.
func subscriptionBehind(t *testing.T, b *bundle, name, guild, stream string, n int) {
	t.Helper()
	ctx := store.WithGuild(t.Context(), guild)
	info, err := b.store.StreamInfo(ctx, stream)
	require.NoError(t, err)
	sub, err := b.store.Subscribe(ctx, store.SubscriptionOptions{Name: name, StreamID: stream},
		func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := b.store.SubscriptionInfo(ctx, name)
		return err == nil && got[0].Version == info.Version
	}, time.Minute, 5*time.Millisecond, "subscription %s catches up", name)
	require.NoError(t, sub.Stop())
	b.numbered(t, guild, stream, n)
}

// TestFeedFollowServesMetrics: `feed --follow --metrics-addr` serves
// /metrics while it runs — the feed reads it made, the events it read, the
// feed and subscription lag, the Go runtime — and stops serving when it
// ends.
func TestFeedFollowServesMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	subscriptionBehind(t, b, "scoreboard", "guild-1", "game-1", 2) // 5 events, 2 behind
	b.waitFeed(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout, stderr, wait := startCLI(ctx, "--database-url", b.url, "--json", "feed", "--follow", "--metrics-addr", "127.0.0.1:0")
	url := metricsURL(t, stderr)

	var (
		m              map[string]*dto.MetricFamily
		reads, latency float64
	)
	// A scrape reads the counters one after the other while the command
	// records a read's operation, latency and events one after the other:
	// one scrape may fall between them. Wait for a scrape that holds the
	// five events and, for the reads it counts, one latency sample each.
	require.Eventually(t, func() bool {
		m = scrape(t, url)
		n, _ := value(m, "eventstore_events_read_total", "eventstore_operation", "read_feed")
		reads, _ = value(m, "eventstore_operations_total", "eventstore_operation", "read_feed", "eventstore_outcome", "ok")
		latency, _ = value(m, "eventstore_operation_duration_seconds", "eventstore_operation", "read_feed", "eventstore_outcome", "ok")
		return n == 5 && reads >= 1 && reads == latency
	}, 20*time.Second, 10*time.Millisecond, "the five events are counted as read, one latency sample per read: %v (stdout %s)", m, stdout.String())
	require.GreaterOrEqual(t, reads, 1.0)
	require.Equal(t, reads, latency, "one latency sample per read")
	require.Equal(t, dto.MetricType_HISTOGRAM, m["eventstore_operation_duration_seconds"].GetType())
	_, ok := value(m, "eventstore_feed_held_events")
	require.True(t, ok, "feed lag gauge")
	_, ok = value(m, "eventstore_feed_lag_seconds")
	require.True(t, ok)
	behind, ok := value(m, "eventstore_subscription_events_behind", "eventstore_subscription", "scoreboard", "eventstore_subscription_member", "0")
	require.True(t, ok, "subscription lag gauge")
	require.Equal(t, 2.0, behind)
	_, ok = value(m, "eventstore_subscription_lag_seconds", "eventstore_subscription", "scoreboard")
	require.True(t, ok)
	_, ok = value(m, "go_goroutines")
	require.True(t, ok, "Go runtime metrics")
	_, ok = value(m, "target_info", "service_name", "eventstore")
	require.True(t, ok)

	// New events are read and counted while the command runs.
	b.numbered(t, "guild-2", "game-2", 4)
	require.Eventually(t, func() bool {
		n, _ := value(scrape(t, url), "eventstore_events_read_total", "eventstore_operation", "read_feed")
		return n == 9
	}, 20*time.Second, 10*time.Millisecond)
	// The read is counted before its events are printed: wait for the lines.
	require.Eventually(t, func() bool { return len(lines(stdout.String())) >= 9 }, 20*time.Second, 10*time.Millisecond,
		"printed: %s", stdout.String())
	require.Len(t, lines(stdout.String()), 9)

	cancel()
	require.Equal(t, 0, wait(), stderr.String())
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "only the serving line: %s", stderr.String())
	require.Nil(t, scrape(t, url), "the server stops with the command")
}

// TestDemoServesMetrics: `demo --metrics-addr` serves the appends and the
// optimistic-concurrency conflicts while the demo runs.
func TestDemoServesMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, stderr, wait := startCLI(ctx, "--database-url", b.url, "demo", "--games", "300", "--workers", "2",
		"--race-rate", "0.5", "--progress=false", "--metrics-addr", "127.0.0.1:0")
	url := metricsURL(t, stderr)

	var m map[string]*dto.MetricFamily
	// A refused append and the append it lost to can end together (in one
	// coalesced statement), and each call records its own outcome, its
	// operation before its events: wait until the scrape holds all three.
	// A scrape reads the operations counter before the conflicts counter,
	// while the demo's workers go on recording: a conflict recorded between
	// the two reads is in the scrape's conflicts but not in its refused
	// appends. Wait for a scrape that has every conflict among them too.
	require.Eventually(t, func() bool {
		m = scrape(t, url)
		conflicts, _ := value(m, "eventstore_conflicts_total", "eventstore_operation", "append")
		refused, _ := value(m, "eventstore_operations_total", "eventstore_operation", "append", "eventstore_outcome", "conflict")
		stored, _ := value(m, "eventstore_operations_total", "eventstore_operation", "append", "eventstore_outcome", "ok")
		events, _ := value(m, "eventstore_events_appended_total")
		return conflicts >= 1 && conflicts <= refused && stored >= 1 && events >= 1
	}, 30*time.Second, 10*time.Millisecond, "conflicts and appends are counted while the demo runs: %v (stderr %s)", m, stderr.String())
	appends, ok := value(m, "eventstore_operations_total", "eventstore_operation", "append", "eventstore_outcome", "ok")
	require.True(t, ok)
	require.Positive(t, appends)
	refused, ok := value(m, "eventstore_operations_total", "eventstore_operation", "append", "eventstore_outcome", "conflict")
	require.True(t, ok)
	conflicts, _ := value(m, "eventstore_conflicts_total", "eventstore_operation", "append")
	require.LessOrEqual(t, conflicts, refused, "every conflict is a refused append")
	events, ok := value(m, "eventstore_events_appended_total")
	require.True(t, ok)
	require.Positive(t, events)

	cancel() // the demo stops early
	wait()
	require.Nil(t, scrape(t, url), "the server stops with the command")
}

// TestMetricsAddrErrors: a bad --metrics-addr fails the command at once with
// a message naming the flag.
func TestMetricsAddrErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = busy.Close() })

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no port", []string{"feed", "--follow", "--metrics-addr", "localhost"}, []string{`--metrics-addr "localhost": want HOST:PORT`, "--help"}},
		{"port not a number", []string{"feed", "--follow", "--metrics-addr", "127.0.0.1:http"}, []string{`port "http" is not a number`}},
		{"port too large", []string{"demo", "--metrics-addr", "127.0.0.1:70000"}, []string{`port "70000" is not a number from 0 to 65535`}},
		{"port taken", []string{"feed", "--follow", "--metrics-addr", busy.Addr().String()},
			[]string{"--metrics-addr " + busy.Addr().String(), "address already in use"}},
		{"without --follow", []string{"feed", "--metrics-addr", "127.0.0.1:0"}, []string{"--metrics-addr needs --follow"}},
		{"not for other commands", []string{"read", "game-1", "--metrics-addr", "127.0.0.1:0"}, []string{"flag provided but not defined: -metrics-addr"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// No database is configured: the address is checked first.
			requireFail(t, runCLI(t, c.args...), c.want...)
		})
	}
}

// TestStatsPrometheus: `stats --format prometheus` prints the store's state
// in the Prometheus text format, with the live metrics' names for feed and
// subscription lag.
func TestStatsPrometheus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fixture(t, b)
	subscriptionBehind(t, b, "race-watch", "guild-a", "game-1", 2)
	b.waitFeed(t)

	r := b.cli(t, "stats", "--format", "prometheus")
	requireOK(t, r)
	m := parseMetrics(t, strings.NewReader(r.stdout))

	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"eventstore_guilds", nil, 3},
		{"eventstore_streams", []string{"status", "active"}, 5},
		{"eventstore_streams", []string{"status", "deleted"}, 1},
		{"eventstore_streams", []string{"status", "archived"}, 0},
		{"eventstore_stored_events", nil, 11},
		{"eventstore_guild_events", []string{"guild_id", "guild-a"}, 8},
		{"eventstore_guild_streams", []string{"guild_id", "guild-b", "status", "deleted"}, 1},
		{"eventstore_type_events", []string{"type", "game_started", "type_version", "1"}, 4},
		{"eventstore_type_events", []string{"type", "note", "type_version", "2"}, 1},
		{"eventstore_mode_games_started", []string{"mode", "two_player"}, 2},
		{"eventstore_mode_games_completed", []string{"mode", "race"}, 1},
		{"eventstore_feed_held_events", nil, 0},
		{"eventstore_feed_lag_seconds", nil, 0},
		{"eventstore_feed_newest_position", nil, 11},
		{"eventstore_subscription_events_behind", []string{"eventstore_subscription", "race-watch", "eventstore_subscription_member", "0"}, 2},
		{"eventstore_subscription_handled_events_total", []string{"eventstore_subscription", "race-watch"}, 4},
		{"eventstore_subscription_consumer_active", []string{"eventstore_subscription", "race-watch"}, 0},
		{"eventstore_subscription_info", []string{"eventstore_subscription", "race-watch", "source", "game-1"}, 1},
	}
	for _, w := range want {
		got, ok := value(m, w.name, w.labels...)
		require.True(t, ok, "%s%v in:\n%s", w.name, w.labels, r.stdout)
		require.Equal(t, w.value, got, "%s%v", w.name, w.labels)
	}
	for _, name := range []string{"eventstore_table_total_bytes", "eventstore_table_index_bytes", "eventstore_type_avg_data_bytes"} {
		got, ok := value(m, name)
		require.True(t, ok, name)
		require.Positive(t, got, name)
	}
	require.Equal(t, dto.MetricType_COUNTER, m["eventstore_subscription_handled_events_total"].GetType())
	require.Equal(t, dto.MetricType_GAUGE, m["eventstore_feed_lag_seconds"].GetType())
	_, ok := value(m, "eventstore_subscription_lag_seconds", "eventstore_subscription", "race-watch")
	require.True(t, ok)
	require.NotEmpty(t, m["eventstore_guilds"].GetHelp(), "every metric has a HELP line")

	t.Run("top", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "stats", "--format", "prometheus", "--top", "1")
		requireOK(t, r)
		m := parseMetrics(t, strings.NewReader(r.stdout))
		require.Len(t, m["eventstore_guild_events"].GetMetric(), 1, "--top limits the guilds")
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "stats", "--format", "json")
		requireOK(t, r)
		require.Equal(t, int64(3), decodeJSON[statsJSON](t, r.stdout).Totals.Guilds)
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		requireFail(t, b.cli(t, "stats", "--format", "xml"), `unknown --format "xml" (want text, json or prometheus)`, "--help")
		requireFail(t, b.cli(t, "--json", "stats", "--format", "prometheus"), "--json and --format prometheus contradict each other")
	})
}

// TestStatsPrometheusEmptyStore: a fresh store still gives valid output.
func TestStatsPrometheusEmptyStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.cli(t, "stats", "--format", "prometheus")
	requireOK(t, r)
	m := parseMetrics(t, strings.NewReader(r.stdout))
	got, ok := value(m, "eventstore_stored_events")
	require.True(t, ok)
	require.Zero(t, got)
	require.NotContains(t, m, "eventstore_subscription_events_behind")
}

// otlpReceiver is an OTLP/HTTP endpoint on 127.0.0.1 that keeps the spans
// it receives.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics int // metric export requests
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r.URL.Path {
	case "/v1/traces":
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				o.spans = append(o.spans, ss.GetSpans()...)
			}
		}
	case "/v1/metrics":
		o.metrics++
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func attrValue(attrs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// TestOTLPExport: with OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER set
// to otlp, a command exports its spans — the store operation with its SQL
// round trips as children — and its metrics to the OTLP endpoint before it
// exits. Not parallel: the exporters read the process environment.
func TestOTLPExport(t *testing.T) {
	b := setup(t)
	recv := &otlpReceiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	vars := map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + l.Addr().String(),
		"OTEL_SERVICE_NAME":           "eventstore-test",
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	r := runWith(t.Context(), runOpts{env: vars, stdin: `[{"type": "note", "data": {"text": "hi"}}]`},
		"--database-url", b.url, "append", "otlp-1", "--expected", "no_stream", "--guild", "guild-1")
	requireOK(t, r)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	require.Positive(t, recv.metrics, "metrics were exported at exit")
	var appendSpan *tracepb.Span
	for _, s := range recv.spans {
		if s.GetName() == "eventstore.append" {
			appendSpan = s
		}
	}
	require.NotNil(t, appendSpan, "spans received: %d", len(recv.spans))
	require.Equal(t, "otlp-1", attrValue(appendSpan.GetAttributes(), "eventstore.stream_id").GetStringValue())
	require.Equal(t, "guild-1", attrValue(appendSpan.GetAttributes(), "eventstore.guild_id").GetStringValue())
	require.Equal(t, int64(1), attrValue(appendSpan.GetAttributes(), "eventstore.events").GetIntValue())
	require.Equal(t, "ok", attrValue(appendSpan.GetAttributes(), "eventstore.outcome").GetStringValue())
	var sql []string
	for _, s := range recv.spans {
		if string(s.GetParentSpanId()) == string(appendSpan.GetSpanId()) {
			sql = append(sql, fmt.Sprint(attrValue(s.GetAttributes(), "db.query.text").GetStringValue()))
		}
	}
	require.NotEmpty(t, sql, "the append's SQL round trips are its children")
	require.Contains(t, strings.Join(sql, "\n"), "eventstore.append_event(", "one event: the lean append")

	t.Run("unknown exporter", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_EXPORTER", "bogus")
		r := runWith(t.Context(), runOpts{env: map[string]string{"OTEL_TRACES_EXPORTER": "bogus"}},
			"--database-url", b.url, "read", "otlp-1")
		requireFail(t, r, "OTEL_TRACES_EXPORTER=bogus", "unknown exporter")
	})
	t.Run("none exports nothing", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_EXPORTER", "none")
		t.Setenv("OTEL_METRICS_EXPORTER", "none")
		before := len(recv.spans)
		recv.mu.Unlock()
		r := runWith(t.Context(), runOpts{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}},
			"--database-url", b.url, "read", "otlp-1")
		recv.mu.Lock()
		requireOK(t, r)
		require.Len(t, recv.spans, before)
	})
}
