// Package httpops is what verso's HTTP server does around each connection
// and request for whoever operates it, none of which needs to know what a
// request asks or a Server: the cap on client connections that slow
// clients cannot fill (Listener), the deadlines of request bodies
// (BodyLimits), the Prometheus metrics of the HTTP surface (Metrics) and
// the access log (AccessLog). Package server uses them for every request,
// and the fast lane (package internal/fastlane) through server.
package httpops
