// Package github is ctem's tracker for GitHub Issues, through
// github.com/google/go-github: issues labelled ctem in the routed
// repositories, read page by page; closed as not planned is won't fix.
package github

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/ctem-dev/ctem/internal/ticket"
)

// Tracker is a set of GitHub repositories.
type Tracker struct {
	// Repos are the "owner/name" repositories ctem's tickets live in;
	// Default is where a ticket without a routed project goes.
	Repos   []string
	Default string
	c       *gh.Client
}

// New returns a tracker with token's credentials through httpClient
// (nil: one that retries as ticket.Transport does). baseURL, when not
// empty, is a GitHub Enterprise Server's API URL.
func New(token, baseURL, defaultRepo string, repos []string, httpClient *http.Client) (*Tracker, error) {
	if httpClient == nil {
		httpClient = &http.Client{Transport: &ticket.Transport{}}
	}
	opts := []gh.ClientOptionsFunc{gh.WithHTTPClient(httpClient)}
	if token != "" {
		opts = append(opts, gh.WithAuthToken(token))
	}
	if baseURL != "" {
		opts = append(opts, gh.WithEnterpriseURLs(baseURL, baseURL))
	}
	c, err := gh.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	all := append([]string{defaultRepo}, repos...)
	seen := map[string]bool{}
	var rs []string
	for _, r := range all {
		if r == "" || seen[r] {
			continue
		}
		if _, _, ok := strings.Cut(r, "/"); !ok {
			return nil, fmt.Errorf("github repository %q: want owner/name", r)
		}
		seen[r] = true
		rs = append(rs, r)
	}
	return &Tracker{Repos: rs, Default: defaultRepo, c: c}, nil
}

// Name returns "github".
func (t *Tracker) Name() string { return "github" }

// List returns the issues labelled ctem that carry a key, in every
// repository, following the Link header's pages.
func (t *Tracker) List(ctx context.Context) ([]ticket.Remote, error) {
	var out []ticket.Remote
	for _, repo := range t.Repos {
		owner, name, _ := strings.Cut(repo, "/")
		opt := &gh.IssueListByRepoOptions{State: "all", Labels: []string{ticket.Label}, ListOptions: gh.ListOptions{PerPage: 100}}
		for {
			issues, resp, err := t.c.Issues.ListByRepo(ctx, owner, name, opt)
			if err != nil {
				return nil, fmt.Errorf("list issues of %s: %w", repo, err)
			}
			for _, is := range issues {
				if is.IsPullRequest() {
					continue
				}
				key, ok := ticket.KeyOf(is.GetBody())
				if !ok {
					continue
				}
				out = append(out, ticket.Remote{Key: key, ID: repo + "#" + strconv.Itoa(is.GetNumber()), URL: is.GetHTMLURL(),
					Open: is.GetState() == "open", WontFix: is.GetState() == "closed" && is.GetStateReason() == "not_planned",
					Resolver: is.GetClosedBy().GetLogin()})
			}
			if resp.NextPage == 0 {
				break
			}
			opt.ListOptions.Page = resp.NextPage
		}
	}
	return out, nil
}

func (t *Tracker) repo(tk ticket.Ticket) string {
	if tk.Project != "" {
		return tk.Project
	}
	return t.Default
}

func split(id string) (owner, name string, n int, err error) {
	repo, num, ok := strings.Cut(id, "#")
	owner, name, ok2 := strings.Cut(repo, "/")
	n, err = strconv.Atoi(num)
	if !ok || !ok2 || err != nil {
		return "", "", 0, fmt.Errorf("github issue id %q: want owner/name#number", id)
	}
	return owner, name, n, nil
}

// Create opens an issue in the ticket's repository.
func (t *Tracker) Create(ctx context.Context, tk ticket.Ticket) (ticket.Remote, error) {
	repo := t.repo(tk)
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return ticket.Remote{}, fmt.Errorf("github repository %q: want owner/name", repo)
	}
	req := &gh.IssueRequest{Title: gh.Ptr(tk.Title), Body: gh.Ptr(tk.Body), Labels: &tk.Labels}
	if tk.Assignee != "" {
		req.Assignees = &[]string{tk.Assignee}
	}
	is, _, err := t.c.Issues.Create(ctx, owner, name, req)
	if err != nil {
		return ticket.Remote{}, err
	}
	return ticket.Remote{Key: tk.Key, ID: repo + "#" + strconv.Itoa(is.GetNumber()), URL: is.GetHTMLURL(), Open: true, Digest: tk.Digest()}, nil
}

// Update rewrites the issue's title, body and labels.
func (t *Tracker) Update(ctx context.Context, r ticket.Remote, tk ticket.Ticket) error {
	owner, name, n, err := split(r.ID)
	if err != nil {
		return err
	}
	_, _, err = t.c.Issues.Edit(ctx, owner, name, n, &gh.IssueRequest{Title: gh.Ptr(tk.Title), Body: gh.Ptr(tk.Body), Labels: &tk.Labels})
	return err
}

// SetOpen closes the issue as completed or reopens it, and comments why.
func (t *Tracker) SetOpen(ctx context.Context, r ticket.Remote, _ ticket.Ticket, open bool, why string) error {
	owner, name, n, err := split(r.ID)
	if err != nil {
		return err
	}
	req := &gh.IssueRequest{State: gh.Ptr("closed"), StateReason: gh.Ptr("completed")}
	if open {
		req = &gh.IssueRequest{State: gh.Ptr("open"), StateReason: gh.Ptr("reopened")}
	}
	if _, _, err := t.c.Issues.Edit(ctx, owner, name, n, req); err != nil {
		return err
	}
	_, _, err = t.c.Issues.CreateComment(ctx, owner, name, n, &gh.IssueComment{Body: gh.Ptr(why)})
	return err
}
