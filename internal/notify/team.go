package notify

// ForTeam limits s to the events of one team: its digests tell only of
// the events whose Owner is team (the paths to the team's jewels, the SLA
// breaches and acceptances of its assets), never of events without an
// owner. The channel is recorded as s's name, a colon and team, so that
// what it was told is remembered apart from an unrestricted channel of
// the same kind.
func ForTeam(s Sender, team string) Sender { return &teamSender{Sender: s, team: team} }

type teamSender struct {
	Sender
	team string
}

func (t *teamSender) Name() string { return t.Sender.Name() + ":" + t.team }

// Wants reports whether the channel is to hear of e.
func (t *teamSender) Wants(e Event) bool { return e.Owner == t.team }
