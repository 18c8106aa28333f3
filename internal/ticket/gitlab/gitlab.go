// Package gitlab is ctem's tracker for GitLab issues, through GitLab's
// official Go client (REST API v4): issues labelled ctem in the routed
// projects, read page by page, closed and reopened through state_event;
// a closed issue labelled as won't fix is read back as won't fix.
package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/ctem-dev/ctem/internal/ticket"
)

// WontFixLabels are the labels (compared case-insensitively) that mark a
// closed issue as closed without a fix. GitLab has no close reason of its
// own, so teams say it with a label; these are the common spellings.
var WontFixLabels = []string{"wontfix", "won't fix", "wont fix", "won't do", "not planned", "ctem::wontfix"}

// Tracker is a set of GitLab projects.
type Tracker struct {
	// Projects are the "group/project" paths (or numeric ids) ctem's
	// tickets live in; Default is where a ticket without a routed
	// project goes.
	Projects []string
	Default  string
	c        *gl.Client

	mu    sync.Mutex
	users map[string]int64
}

// New returns a tracker with token's credentials (a personal, project or
// group access token, sent as Private-Token) through httpClient (nil: one
// that retries as ticket.Transport does). baseURL, when not empty, is a
// self-managed instance's URL; the client appends /api/v4. The client's
// own retries are off: httpClient's transport retries, so one policy
// (Retry-After honoured, bounded backoff) applies to every tracker.
func New(token, baseURL, defaultProject string, projects []string, httpClient *http.Client) (*Tracker, error) {
	if httpClient == nil {
		httpClient = &http.Client{Transport: &ticket.Transport{}}
	}
	opts := []gl.ClientOptionFunc{gl.WithHTTPClient(httpClient), gl.WithoutRetries()}
	if baseURL != "" {
		opts = append(opts, gl.WithBaseURL(baseURL))
	}
	c, err := gl.NewClient(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab client: %w", err)
	}
	seen := map[string]bool{}
	var ps []string
	for _, p := range append([]string{defaultProject}, projects...) {
		if p == "" || seen[p] {
			continue
		}
		if strings.Contains(p, "#") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			return nil, fmt.Errorf("gitlab project %q: want group/project or a numeric id", p)
		}
		seen[p] = true
		ps = append(ps, p)
	}
	return &Tracker{Projects: ps, Default: defaultProject, c: c, users: map[string]int64{}}, nil
}

// Name returns "gitlab".
func (t *Tracker) Name() string { return "gitlab" }

// wontFix reports whether labels mark a closed issue as won't fix.
func wontFix(labels []string) bool {
	return slices.ContainsFunc(labels, func(l string) bool {
		return slices.ContainsFunc(WontFixLabels, func(w string) bool { return strings.EqualFold(l, w) })
	})
}

// List returns the issues labelled ctem that carry a key, in every
// project, following X-Next-Page.
func (t *Tracker) List(ctx context.Context) ([]ticket.Remote, error) {
	var out []ticket.Remote
	for _, p := range t.Projects {
		opt := &gl.ListProjectIssuesOptions{State: gl.Ptr("all"), Labels: &gl.LabelOptions{ticket.Label},
			ListOptions: gl.ListOptions{PerPage: 100}}
		for {
			issues, resp, err := t.c.Issues.ListProjectIssues(p, opt, gl.WithContext(ctx))
			if err != nil {
				return nil, fmt.Errorf("list issues of %s: %w", p, err)
			}
			for _, is := range issues {
				key, ok := ticket.KeyOf(is.Description)
				if !ok {
					continue
				}
				r := ticket.Remote{Key: key, ID: p + "#" + strconv.FormatInt(is.IID, 10), URL: is.WebURL,
					Open: is.State == "opened", WontFix: is.State == "closed" && wontFix(is.Labels)}
				if is.ClosedBy != nil {
					r.Resolver = is.ClosedBy.Username
				}
				out = append(out, r)
			}
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
	}
	return out, nil
}

func (t *Tracker) project(tk ticket.Ticket) string {
	if tk.Project != "" {
		return tk.Project
	}
	return t.Default
}

func split(id string) (project string, iid int64, err error) {
	i := strings.LastIndexByte(id, '#')
	if i > 0 {
		iid, err = strconv.ParseInt(id[i+1:], 10, 64)
	}
	if i <= 0 || err != nil || iid <= 0 {
		return "", 0, fmt.Errorf("gitlab issue id %q: want group/project#iid", id)
	}
	return id[:i], iid, nil
}

// assignee returns the user id of a username (or a numeric id as is),
// looked up once through GET /users?username=; 0 when nobody has it.
func (t *Tracker) assignee(ctx context.Context, name string) (int64, error) {
	if name == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(name, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	t.mu.Lock()
	id, ok := t.users[name]
	t.mu.Unlock()
	if ok {
		return id, nil
	}
	us, _, err := t.c.Users.ListUsers(&gl.ListUsersOptions{Username: gl.Ptr(name)}, gl.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("find gitlab user %s: %w", name, err)
	}
	for _, u := range us {
		if strings.EqualFold(u.Username, name) {
			id = u.ID
		}
	}
	t.mu.Lock()
	t.users[name] = id
	t.mu.Unlock()
	return id, nil
}

// Create opens an issue in the ticket's project, assigned to the routed
// user when GitLab knows them.
func (t *Tracker) Create(ctx context.Context, tk ticket.Ticket) (ticket.Remote, error) {
	p := t.project(tk)
	if p == "" {
		return ticket.Remote{}, fmt.Errorf("gitlab ticket %s: no project (set the default project or a route)", tk.Key)
	}
	labels := gl.LabelOptions(tk.Labels)
	opt := &gl.CreateIssueOptions{Title: gl.Ptr(tk.Title), Description: gl.Ptr(tk.Body), Labels: &labels}
	uid, err := t.assignee(ctx, tk.Assignee)
	if err != nil {
		return ticket.Remote{}, err
	}
	if uid != 0 {
		opt.AssigneeIDs = &[]int64{uid}
	}
	is, _, err := t.c.Issues.CreateIssue(p, opt, gl.WithContext(ctx))
	if err != nil {
		return ticket.Remote{}, err
	}
	return ticket.Remote{Key: tk.Key, ID: p + "#" + strconv.FormatInt(is.IID, 10), URL: is.WebURL, Open: true, Digest: tk.Digest()}, nil
}

// Update rewrites the issue's title, description and labels.
func (t *Tracker) Update(ctx context.Context, r ticket.Remote, tk ticket.Ticket) error {
	p, iid, err := split(r.ID)
	if err != nil {
		return err
	}
	labels := gl.LabelOptions(tk.Labels)
	_, _, err = t.c.Issues.UpdateIssue(p, iid, &gl.UpdateIssueOptions{Title: gl.Ptr(tk.Title), Description: gl.Ptr(tk.Body), Labels: &labels}, gl.WithContext(ctx))
	return err
}

// SetOpen closes or reopens the issue (state_event close or reopen) and
// leaves a note saying why.
func (t *Tracker) SetOpen(ctx context.Context, r ticket.Remote, _ ticket.Ticket, open bool, why string) error {
	p, iid, err := split(r.ID)
	if err != nil {
		return err
	}
	ev := "close"
	if open {
		ev = "reopen"
	}
	if _, _, err := t.c.Issues.UpdateIssue(p, iid, &gl.UpdateIssueOptions{StateEvent: gl.Ptr(ev)}, gl.WithContext(ctx)); err != nil {
		return err
	}
	_, _, err = t.c.Notes.CreateIssueNote(p, iid, &gl.CreateIssueNoteOptions{Body: gl.Ptr(why)}, gl.WithContext(ctx))
	return err
}
