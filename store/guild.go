package store

import "context"

type guildKey struct{}

// WithGuild returns a context that carries guildID. Every write needs one:
// a stream belongs to the guild that created it, and appending to another
// guild's stream is refused with ErrGuildMismatch.
func WithGuild(ctx context.Context, guildID string) context.Context {
	return context.WithValue(ctx, guildKey{}, guildID)
}

// GuildFromContext returns the guild carried by ctx, if any.
func GuildFromContext(ctx context.Context) (string, bool) {
	g, ok := ctx.Value(guildKey{}).(string)
	return g, ok && g != ""
}
