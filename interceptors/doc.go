// Package interceptors provides unary and stream interceptors, client and
// server, that attribute RPC failures to the transport event that caused them.
package interceptors
