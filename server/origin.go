package server

// Cross-site requests. A browser sends the credentials it holds for verso
// (Basic credentials it cached after a login) with every request to
// verso, whichever page made it: a page on any site could submit a form
// that writes, reverts or imports. So a request that may change something
// is refused when it comes from another site's page, as the browser tells
// through Origin (or, lacking it, Referer) and Sec-Fetch-Site; and the JSON
// endpoints take only JSON, which a form cannot send. Clients that are not
// browsers (curl, the verso command, WebDAV and svn clients) send none of
// these headers and are not affected. See "Cross-site requests" in
// docs/HTTP.md.

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// safeMethod reports whether a method only reads: the methods a page of
// another site may send without the request being refused.
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND":
		return true
	}
	return false
}

// checkOrigin refuses, with 403, a request that may change something and
// that a page of another site sent: its Sec-Fetch-Site says so, its Origin
// is another origin than the server's as the request names it (scheme and
// Host) or "null" (a sandboxed page, a redirect from elsewhere), or, with
// no Origin, its Referer is a page of another origin. A request with none
// of these headers passes: browsers send them, other clients do not.
func checkOrigin(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	h := r.Header
	switch site := h.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return crossSite(r, "Sec-Fetch-Site: "+site)
	}
	if origin, ok := h["Origin"]; ok {
		if len(origin) != 1 || !sameOrigin(r, origin[0]) {
			return crossSite(r, "Origin: "+strings.Join(origin, ", "))
		}
		return nil
	}
	if referer := h.Get("Referer"); referer != "" && !sameOrigin(r, referer) {
		return crossSite(r, "Referer: "+referer)
	}
	return nil
}

// crossSite is the refusal of a cross-site request.
func crossSite(r *http.Request, why string) error {
	return errorf(http.StatusForbidden, "cross-site request refused (%s): %s %s changes data and is taken only from pages of %s or from clients that send no Origin",
		why, r.Method, r.URL.Path, serverOrigin(r))
}

// serverOrigin is the origin of the server as the request names it.
func serverOrigin(r *http.Request) string {
	return requestScheme(r) + "://" + r.Host
}

// requestScheme is the scheme the client used: https over TLS, or when a
// proxy in front says so with X-Forwarded-Proto; http otherwise.
func requestScheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https") {
		return "https"
	}
	return "http"
}

// sameOrigin reports whether u (an Origin, or a Referer URL) is of the
// server's origin as the request names it: same host and port (default
// ports left out), and same scheme, except that an https page may reach a
// server that sees plain HTTP (a proxy in front ends TLS). An http page
// never passes for an https server.
func sameOrigin(r *http.Request, u string) bool {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || pu.User != nil {
		return false
	}
	scheme := strings.ToLower(pu.Scheme)
	switch {
	case scheme == requestScheme(r):
	case scheme == "https" && requestScheme(r) == "http":
	default:
		return false
	}
	return strings.EqualFold(withoutDefaultPort(pu.Host, scheme), withoutDefaultPort(r.Host, requestScheme(r)))
}

// withoutDefaultPort returns host without the default port of scheme.
func withoutDefaultPort(host, scheme string) string {
	port := map[string]string{"http": ":80", "https": ":443"}[scheme]
	return strings.TrimSuffix(host, port)
}

// checkJSONBody refuses, with 415, a request to a JSON endpoint whose body
// is declared as something else: an HTML form can only send
// application/x-www-form-urlencoded, multipart/form-data or text/plain. A
// request without Content-Type passes, as clients that are not browsers
// often send none.
func checkJSONBody(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType, "%s takes a JSON body: send Content-Type: application/json, not %q", r.URL.Path, ct)
}
