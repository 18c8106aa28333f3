package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/api"
)

// route is one API route: its pattern, the action the authorisation
// table checks, the query parameters it accepts (any other is refused)
// and the most bytes its body may hold.
type route struct {
	Name    string
	Method  string
	Pattern string
	Action  Action
	Params  []string
	MaxBody int64
	H       handlerFunc
}

var (
	listParams     = []string{"limit", "cursor"}
	findingParams  = append([]string{"severity", "tool", "asset", "status", "cve", "kind", "scan", "sort"}, listParams...)
	exposureParams = append([]string{"history"}, findingParams...)
)

// routes lists every route of the API. The authorisation test walks this
// list with every role.
func (s *Server) routes() []route {
	return append(append(append(append(append(s.coreRoutes(), s.mobilisationRoutes()...), s.dashboardRoutes()...), s.oidcRoutes()...), s.validationRoutes()...), s.reportRoutes()...)
}

// oidcRoutes are the sign-in routes of an OpenID Connect provider, when
// one is configured.
func (s *Server) oidcRoutes() []route {
	if s.oidc == nil {
		return nil
	}
	return []route{
		{Name: "oidc.login", Method: "GET", Pattern: "/api/v1/oidc/login", Action: ActPublic, Params: []string{"next"}, H: s.oidcLogin},
		{Name: "oidc.callback", Method: "GET", Pattern: "/api/v1/oidc/callback", Action: ActPublic,
			Params: []string{"code", "state", "error", "error_description", "error_uri", "iss", "session_state", "scope", "authuser", "hd", "prompt"}, H: s.oidcCallback},
	}
}

func (s *Server) coreRoutes() []route {
	return []route{
		{Name: "healthz", Method: "GET", Pattern: "/healthz", Action: ActPublic, H: s.healthz},
		{Name: "readyz", Method: "GET", Pattern: "/readyz", Action: ActPublic, H: s.readyz},
		{Name: "openapi", Method: "GET", Pattern: "/api/v1/openapi.json", Action: ActPublic, H: s.openapi},
		{Name: "metrics", Method: "GET", Pattern: "/metrics", Action: ActMetrics, H: s.metricsHandler},

		{Name: "findings", Method: "GET", Pattern: "/api/v1/findings", Action: ActRead, Params: findingParams, H: s.listFindings},
		{Name: "finding", Method: "GET", Pattern: "/api/v1/findings/{id}", Action: ActRead, H: s.getFinding},
		{Name: "exposures", Method: "GET", Pattern: "/api/v1/exposures", Action: ActRead, Params: exposureParams, H: s.listExposures},
		{Name: "exposure", Method: "GET", Pattern: "/api/v1/exposures/{id}", Action: ActRead, H: s.getExposure},
		{Name: "explain", Method: "GET", Pattern: "/api/v1/exposures/{id}/explain", Action: ActRead, H: s.explain},
		{Name: "history", Method: "GET", Pattern: "/api/v1/exposures/{id}/history", Action: ActRead, Params: listParams, H: s.history},
		{Name: "triage", Method: "POST", Pattern: "/api/v1/exposures/{id}/triage", Action: ActTriage, H: s.triage},
		{Name: "assets", Method: "GET", Pattern: "/api/v1/assets", Action: ActRead, Params: []string{"asset", "kind", "limit", "cursor"}, H: s.listAssets},
		{Name: "asset", Method: "GET", Pattern: "/api/v1/assets/{key...}", Action: ActRead, H: s.getAsset},
		{Name: "scans", Method: "GET", Pattern: "/api/v1/scans", Action: ActRead, Params: []string{"tool", "asset", "limit", "cursor"}, H: s.listScans},
		{Name: "scan", Method: "GET", Pattern: "/api/v1/scans/{id}", Action: ActRead, H: s.getScan},
		{Name: "paths", Method: "GET", Pattern: "/api/v1/paths", Action: ActRead, Params: []string{"to", "from", "through", "team"}, H: s.paths},
		{Name: "fixplan", Method: "GET", Pattern: "/api/v1/fixplan", Action: ActRead, Params: []string{"budget"}, H: s.fixPlan},
		{Name: "top", Method: "GET", Pattern: "/api/v1/top", Action: ActRead, Params: []string{"n"}, H: s.top},
		{Name: "events", Method: "GET", Pattern: "/api/v1/events", Action: ActRead, Params: listParams, H: s.events},
		{Name: "scope", Method: "GET", Pattern: "/api/v1/scope", Action: ActRead, H: s.getScope},
		{Name: "scope.set", Method: "PUT", Pattern: "/api/v1/scope", Action: ActScopeWrite, Params: []string{"name"}, H: s.setScope},
		{Name: "feeds", Method: "GET", Pattern: "/api/v1/feeds", Action: ActRead, H: s.feedsStatus},
		{Name: "kpis", Method: "GET", Pattern: "/api/v1/kpis", Action: ActRead, Params: []string{"since", "sla"}, H: s.kpis},

		{Name: "session.create", Method: "POST", Pattern: "/api/v1/session", Action: ActPublic, H: s.signIn},
		{Name: "session", Method: "GET", Pattern: "/api/v1/session", Action: ActSelf, H: s.whoAmI},
		{Name: "session.delete", Method: "DELETE", Pattern: "/api/v1/session", Action: ActSelf, H: s.signOut},

		{Name: "ingest", Method: "POST", Pattern: "/api/v1/ingest", Action: ActIngest, Params: []string{"target", "name"}, MaxBody: -1, H: s.ingest},
		{Name: "job", Method: "GET", Pattern: "/api/v1/jobs/{id}", Action: ActJobRead, H: s.getJob},

		{Name: "tokens", Method: "GET", Pattern: "/api/v1/tokens", Action: ActTokenAdmin, H: s.listTokens},
		{Name: "token.create", Method: "POST", Pattern: "/api/v1/tokens", Action: ActTokenAdmin, H: s.createToken},
		{Name: "token.revoke", Method: "DELETE", Pattern: "/api/v1/tokens/{id}", Action: ActTokenAdmin, H: s.revokeToken},
		{Name: "audit", Method: "GET", Pattern: "/api/v1/audit", Action: ActAuditRead, Params: []string{"after", "limit"}, H: s.auditLog},

		{Name: "webhooks", Method: "GET", Pattern: "/api/v1/webhooks", Action: ActWebhookAdmin, H: s.listWebhooks},
		{Name: "webhook.create", Method: "POST", Pattern: "/api/v1/webhooks", Action: ActWebhookAdmin, H: s.createWebhook},
		{Name: "webhook.delete", Method: "DELETE", Pattern: "/api/v1/webhooks/{id}", Action: ActWebhookAdmin, H: s.deleteWebhook},
		{Name: "webhook.deliveries", Method: "GET", Pattern: "/api/v1/webhooks/{id}/deliveries", Action: ActWebhookAdmin, Params: []string{"limit"}, H: s.webhookDeliveries},
	}
}

// wrap puts a route's handler behind the request id, metrics, logging,
// authentication, the authorisation table, the parameter check and the
// body limit.
func (s *Server) wrap(rt route) http.Handler {
	h := s.adapt(rt.H)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := newRequestID()
		r = r.WithContext(context.WithValue(r.Context(), keyRequestID, rid))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && rt.Action != ActIngest && rt.Action != ActRead {
			// A change is answered after it is made: reads that follow
			// the answer compute afresh (see coalescer). A POST that only
			// reads (a what-if) changes nothing.
			rec.beforeWrite = s.shared.bump
		}
		rec.Header().Set("X-Request-Id", rid)
		rec.Header().Set("Cache-Control", "no-store")
		defer func() {
			if rec.beforeWrite != nil {
				// Whatever it changed, reads from now on compute afresh
				// (an upload changes nothing read until its job ends,
				// which bumps then).
				s.shared.bump()
			}
			s.metrics.observe(rt.Name, r.Method, rec.status, time.Since(start))
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", append(logAttrs(r, rec.status), slog.Duration("duration", time.Since(start)))...)
		}()
		if rt.Action != ActPublic {
			p, err := s.authenticate(r)
			if err != nil {
				if err == errUnauthenticated {
					// Refusals are audited, so an anonymous client could
					// make the server write for every request: they are
					// limited per client address like a token's requests.
					if ok, wait := s.limit.allow("addr:"+remoteHost(r), time.Now()); !ok {
						rec.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
						s.adapt(func(http.ResponseWriter, *http.Request) error {
							return errStatus(http.StatusTooManyRequests, "too many requests without a valid token; retry later")
						}).ServeHTTP(rec, r)
						return
					}
					s.audit(r, nil, "denied", rt.Name, "denied", "no valid token")
					rec.Header().Set("WWW-Authenticate", `Bearer realm="ctem"`)
					s.adapt(func(http.ResponseWriter, *http.Request) error {
						return errStatus(http.StatusUnauthorized, "a valid API token is required (Authorization: Bearer ctem_...)")
					}).ServeHTTP(rec, r)
					return
				}
				s.adapt(func(http.ResponseWriter, *http.Request) error { return err }).ServeHTTP(rec, r)
				return
			}
			if ok, wait := s.limit.allow(p.TokenID, time.Now()); !ok {
				rec.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				s.adapt(func(http.ResponseWriter, *http.Request) error {
					return errStatus(http.StatusTooManyRequests, "this token's request rate is over its limit; retry later")
				}).ServeHTTP(rec, r)
				return
			}
			if !Allowed(p.Role, rt.Action) {
				s.audit(r, p, "denied", rt.Name, "denied", "role "+string(p.Role)+" may not "+string(rt.Action))
				s.adapt(func(http.ResponseWriter, *http.Request) error {
					return errStatus(http.StatusForbidden, "role %s may not %s", p.Role, rt.Action)
				}).ServeHTTP(rec, r)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
		}
		for k := range r.URL.Query() {
			if !slices.Contains(rt.Params, k) {
				s.adapt(func(http.ResponseWriter, *http.Request) error {
					return badParam(k, "unknown parameter %q", k)
				}).ServeHTTP(rec, r)
				return
			}
		}
		switch {
		case rt.MaxBody > 0:
			r.Body = http.MaxBytesReader(rec, r.Body, rt.MaxBody)
		case rt.MaxBody == 0:
			r.Body = http.MaxBytesReader(rec, r.Body, s.limits.MaxJSON)
		}
		if rt.Method == http.MethodGet && rt.Action == ActRead {
			s.shared.serve(s.shared.key(r, principal(r.Context())), rec, r, h)
			return
		}
		h.ServeHTTP(rec, r)
	})
}

// openapi serves the API document as JSON.
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	b, err := api.JSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}
