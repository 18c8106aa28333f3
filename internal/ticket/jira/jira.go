// Package jira is ctem's tracker for Jira Cloud and Data Center, through
// Jira's REST API version 2 (which both serve) with a small client of its
// own: search by JQL with pagination, create, edit, and transitions.
package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctem-dev/ctem/internal/ticket"
)

// pageSize is how many issues one search asks for.
const pageSize = 50

// Tracker is a Jira site.
type Tracker struct {
	// BaseURL is the site's URL (https://example.atlassian.net).
	BaseURL string
	// Project is the project key new tickets go to when their route
	// names none; IssueType their type (default Task).
	Project   string
	IssueType string
	Client    *ticket.Client
}

// New returns a tracker for the site at baseURL. With email set the
// credentials are Jira Cloud's (email and API token, basic
// authentication); without, token is a Data Center personal access token
// (bearer).
func New(baseURL, project, email, token string, c *ticket.Client) *Tracker {
	if c == nil {
		c = &ticket.Client{}
	}
	c.Auth = func(r *http.Request) {
		if email != "" {
			r.SetBasicAuth(email, token)
		} else if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
	return &Tracker{BaseURL: strings.TrimRight(baseURL, "/"), Project: project, Client: c}
}

// Name returns "jira".
func (t *Tracker) Name() string { return "jira" }

type issue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary     string   `json:"summary"`
		Description string   `json:"description"`
		Labels      []string `json:"labels"`
		Status      struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
		Resolution *struct {
			Name string `json:"name"`
		} `json:"resolution"`
	} `json:"fields"`
}

type searchPage struct {
	StartAt    int     `json:"startAt"`
	MaxResults int     `json:"maxResults"`
	Total      int     `json:"total"`
	Issues     []issue `json:"issues"`
}

// wontFix are the resolutions that close an issue without a fix.
var wontFix = []string{"won't fix", "won't do", "wontfix", "declined", "not a bug", "cannot reproduce", "duplicate"}

// List returns every issue labelled ctem that carries a key, page by page
// (startAt, maxResults, total).
func (t *Tracker) List(ctx context.Context) ([]ticket.Remote, error) {
	var out []ticket.Remote
	for start := 0; ; {
		q := url.Values{}
		q.Set("jql", fmt.Sprintf("labels = %q ORDER BY key", ticket.Label))
		q.Set("startAt", fmt.Sprint(start))
		q.Set("maxResults", fmt.Sprint(pageSize))
		q.Set("fields", "summary,description,labels,status,resolution")
		data, _, err := t.Client.Do(ctx, http.MethodGet, t.BaseURL+"/rest/api/2/search?"+q.Encode(), nil, nil)
		if err != nil {
			return nil, err
		}
		var page searchPage
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, fmt.Errorf("jira search: %w", err)
		}
		for _, is := range page.Issues {
			key, ok := ticket.KeyOf(is.Fields.Description)
			if !ok {
				continue
			}
			r := ticket.Remote{Key: key, ID: is.Key, URL: t.BaseURL + "/browse/" + is.Key, Open: is.Fields.Status.StatusCategory.Key != "done"}
			if !r.Open && is.Fields.Resolution != nil {
				name := strings.ToLower(strings.ReplaceAll(is.Fields.Resolution.Name, "’", "'"))
				for _, w := range wontFix {
					if name == w {
						r.WontFix = true
					}
				}
			}
			out = append(out, r)
		}
		start = page.StartAt + len(page.Issues)
		if len(page.Issues) == 0 || start >= page.Total {
			return out, nil
		}
	}
}

func (t *Tracker) project(tk ticket.Ticket) string {
	if tk.Project != "" {
		return tk.Project
	}
	return t.Project
}

// Create creates an issue.
func (t *Tracker) Create(ctx context.Context, tk ticket.Ticket) (ticket.Remote, error) {
	typ := t.IssueType
	if typ == "" {
		typ = "Task"
	}
	fields := map[string]any{
		"project": map[string]string{"key": t.project(tk)}, "summary": tk.Title, "description": tk.Body,
		"issuetype": map[string]string{"name": typ}, "labels": tk.Labels,
	}
	if tk.Assignee != "" {
		fields["assignee"] = map[string]string{"name": tk.Assignee}
	}
	body, err := json.Marshal(map[string]any{"fields": fields})
	if err != nil {
		return ticket.Remote{}, err
	}
	data, _, err := t.Client.Do(ctx, http.MethodPost, t.BaseURL+"/rest/api/2/issue", nil, body)
	if err != nil {
		return ticket.Remote{}, err
	}
	var created struct {
		ID, Key string
	}
	if err := json.Unmarshal(data, &created); err != nil || created.Key == "" {
		return ticket.Remote{}, fmt.Errorf("jira create: no issue key in the answer")
	}
	return ticket.Remote{Key: tk.Key, ID: created.Key, URL: t.BaseURL + "/browse/" + created.Key, Open: true, Digest: tk.Digest()}, nil
}

// Update rewrites the issue's summary, description and labels.
func (t *Tracker) Update(ctx context.Context, r ticket.Remote, tk ticket.Ticket) error {
	body, err := json.Marshal(map[string]any{"fields": map[string]any{"summary": tk.Title, "description": tk.Body, "labels": tk.Labels}})
	if err != nil {
		return err
	}
	_, _, err = t.Client.Do(ctx, http.MethodPut, t.BaseURL+"/rest/api/2/issue/"+url.PathEscape(r.ID), nil, body)
	return err
}

// SetOpen moves the issue by the first transition whose target status is
// in the category wanted (done to close, to do or in progress to
// reopen), and comments why.
func (t *Tracker) SetOpen(ctx context.Context, r ticket.Remote, _ ticket.Ticket, open bool, why string) error {
	base := t.BaseURL + "/rest/api/2/issue/" + url.PathEscape(r.ID)
	data, _, err := t.Client.Do(ctx, http.MethodGet, base+"/transitions", nil, nil)
	if err != nil {
		return err
	}
	var ts struct {
		Transitions []struct {
			ID string `json:"id"`
			To struct {
				StatusCategory struct {
					Key string `json:"key"`
				} `json:"statusCategory"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := json.Unmarshal(data, &ts); err != nil {
		return fmt.Errorf("jira transitions of %s: %w", r.ID, err)
	}
	id := ""
	for _, tr := range ts.Transitions {
		if done := tr.To.StatusCategory.Key == "done"; done != open {
			id = tr.ID
			break
		}
	}
	if id == "" {
		return fmt.Errorf("jira issue %s: no transition to a %s status", r.ID, map[bool]string{true: "open", false: "done"}[open])
	}
	body, _ := json.Marshal(map[string]any{"transition": map[string]string{"id": id}})
	if _, _, err := t.Client.Do(ctx, http.MethodPost, base+"/transitions", nil, body); err != nil {
		return err
	}
	body, _ = json.Marshal(map[string]string{"body": why})
	_, _, err = t.Client.Do(ctx, http.MethodPost, base+"/comment", nil, body)
	return err
}
