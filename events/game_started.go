package events

import (
	"fmt"
	"slices"

	"github.com/gamebot/eventstore/serde"
)

// GameStarted is the first event of every game: it names the teams, their
// players and roles, and the game's configuration.
type GameStarted struct {
	Base
	// Teams maps each team id to its two player ids, player1 first.
	Teams map[string][]string `json:"teams"`
	// TeamIDs is the set of team ids; it equals the keys of Teams.
	TeamIDs serde.Set[string] `json:"team_ids"`
	// PlayerIDs is the set of all players; it equals the union of Teams.
	PlayerIDs serde.Set[string] `json:"player_ids"`
	// Roles maps each player id to the player's seat in its team.
	Roles map[string]Role `json:"roles"`
	// Config holds the game's settings.
	Config GameConfig `json:"config"`
}

// EventType returns "game_started".
func (GameStarted) EventType() string { return "game_started" }

// EventVersion returns 1.
func (GameStarted) EventVersion() int { return 1 }

// Validate checks the base fields, that the game starts in round 1, that
// the mode has the right number of teams (two_player: exactly one; knockout:
// at least two; race: at least one), that every team has two distinct
// players who play in no other team, that team_ids, player_ids and roles
// agree with teams, and the config.
func (e GameStarted) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	if e.RoundNumber != 1 && e.RoundNumber >= 1 {
		c.failf("round_number", "a game starts in round 1, got %d", e.RoundNumber)
	}
	switch n := len(e.Teams); {
	case n == 0:
		c.failf("teams", "required")
	case e.Mode == ModeTwoPlayer && n != 1:
		c.failf("teams", "two_player mode has exactly one team, got %d", n)
	case e.Mode == ModeKnockout && n < 2:
		c.failf("teams", "knockout mode needs at least two teams, got %d", n)
	}
	teamOf := make(map[string]string) // player id -> team id
	for _, id := range sortedKeys(e.Teams) {
		field := key("teams", id)
		c.require(field, id)
		players := e.Teams[id]
		if len(players) != 2 {
			c.failf(field, "a team has exactly two players, got %d", len(players))
			continue
		}
		for i, p := range players {
			pf := fmt.Sprintf("%s[%d]", field, i)
			c.require(pf, p)
			if other, ok := teamOf[p]; ok {
				c.failf(pf, "player %q already plays in team %q", p, other)
			}
			teamOf[p] = id
			if r, ok := e.Roles[p]; ok && r != Roles()[i] {
				c.failf(key("roles", p), "player %q is %s of team %q, got role %q", p, Roles()[i], id, r)
			}
		}
	}
	if got, want := e.TeamIDs.Sorted(), sortedKeys(e.Teams); !slices.Equal(got, want) {
		c.failf("team_ids", "must equal the keys of teams %q, got %q", want, got)
	}
	if got, want := e.PlayerIDs.Sorted(), sortedKeys(teamOf); !slices.Equal(got, want) {
		c.failf("player_ids", "must equal the players of all teams %q, got %q", want, got)
	}
	for _, p := range sortedKeys(e.Roles) {
		if !e.Roles[p].Valid() {
			c.failf(key("roles", p), "unknown role %q", e.Roles[p])
		}
		if _, ok := teamOf[p]; !ok {
			c.failf(key("roles", p), "player %q is in no team", p)
		}
	}
	for _, p := range sortedKeys(teamOf) {
		if _, ok := e.Roles[p]; !ok {
			c.failf(key("roles", p), "required for every player")
		}
	}
	e.Config.check(c, e.Mode)
	return c.err
}
