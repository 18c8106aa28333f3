package cli

import (
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/netguard"
	"github.com/ctem-dev/ctem/internal/notify"
)

// routedNotifiers builds the channels limited to one team that
// CTEM_NOTIFY_ROUTES lists (those of the kinds want accepts), as
// comma-separated TEAM=KIND:DESTINATION entries: slack:VARIABLE and
// teams:VARIABLE name the variable holding the webhook's URL (or its
// _FILE), email:ADDRESS[;ADDRESS...] the recipients of a mail sent
// through the CTEM_SMTP_* relay. Each is checked as the unrestricted
// channels are (webhook names the hosts allowed for a kind).
func (e *env) routedNotifiers(want func(string) bool, base netguard.Policy, hosts func([]string) []string) ([]notify.Sender, error) {
	routes := e.getenv("CTEM_NOTIFY_ROUTES")
	if strings.TrimSpace(routes) == "" {
		return nil, nil
	}
	var out []notify.Sender
	seen := map[string]bool{}
	for i, entry := range strings.Split(routes, ",") {
		entry = strings.TrimSpace(entry)
		bad := func(format string, args ...any) error {
			// The entry is not quoted: a webhook URL pasted by mistake
			// is a secret.
			return usage(fmt.Errorf("CTEM_NOTIFY_ROUTES entry %d: %s", i+1, fmt.Sprintf(format, args...)))
		}
		team, dest, ok := strings.Cut(entry, "=")
		kind, target, ok2 := strings.Cut(dest, ":")
		team, kind, target = strings.TrimSpace(team), strings.TrimSpace(kind), strings.TrimSpace(target)
		if !ok || !ok2 || team == "" || target == "" {
			return nil, bad("want TEAM=slack:VARIABLE, TEAM=teams:VARIABLE or TEAM=email:ADDRESS")
		}
		name := kind + ":" + team
		if seen[name] {
			return nil, bad("a second %s channel of team %s (list its addresses in one entry, separated by ';')", kind, team)
		}
		seen[name] = true
		switch kind {
		case "slack", "teams":
			if !want(kind) {
				continue
			}
			if !strings.HasPrefix(target, "CTEM_") {
				return nil, bad("name the variable that holds the webhook's URL (CTEM_...), not the URL")
			}
			url, err := e.secret(target)
			if err != nil {
				return nil, err
			}
			if url == "" {
				return nil, bad("%s is not set", target)
			}
			pol := base
			pol.AllowHosts = hosts(map[string][]string{"slack": slackHosts, "teams": teamsHosts}[kind])
			if _, err := pol.CheckURL(url); err != nil {
				return nil, bad("%s: %v", target, err)
			}
			p := notify.Poster{URL: url, Policy: pol}
			var s notify.Sender = &notify.Slack{Poster: p}
			if kind == "teams" {
				s = &notify.Teams{Poster: p}
			}
			out = append(out, notify.ForTeam(s, team))
		case "email":
			if !want(kind) {
				continue
			}
			var to []string
			for t := range strings.SplitSeq(target, ";") {
				if t = strings.TrimSpace(t); t != "" {
					to = append(to, t)
				}
			}
			m, err := e.smtpNotifier(base, hosts, to)
			if err != nil {
				return nil, err
			}
			if m == nil {
				return nil, bad("CTEM_SMTP_ADDR is not set")
			}
			out = append(out, notify.ForTeam(m, team))
		default:
			return nil, bad("channel %q: want slack, teams or email", kind)
		}
	}
	return out, nil
}

// routesKind reports whether CTEM_NOTIFY_ROUTES lists a channel of kind,
// which --channel kind then names without the unrestricted one.
func (e *env) routesKind(kind string) bool {
	for entry := range strings.SplitSeq(e.getenv("CTEM_NOTIFY_ROUTES"), ",") {
		if _, dest, ok := strings.Cut(entry, "="); ok && strings.HasPrefix(strings.TrimSpace(dest), kind+":") {
			return true
		}
	}
	return false
}
