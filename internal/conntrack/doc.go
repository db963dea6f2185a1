// Package conntrack keeps one journal per HTTP/2 connection and derives, with
// a pure function, why the connection ended and who ended it.
//
// A journal is fed by the wire observer (frames and the socket's end) and
// read by the stats handlers. The classifier applies one rule: the first
// cause wins. A server that sent GOAWAY "max_age" later also receives the
// client's own "client transport shutdown" GOAWAY and an EOF; the reason
// stays max_connection_age because the later events are consequences.
//
// This package has no OpenTelemetry dependency: it is the vocabulary and the
// logic, recording lives above it.
package conntrack
