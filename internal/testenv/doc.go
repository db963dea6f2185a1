// Package testenv holds what grpcpulse's scenario tests share: a real gRPC
// test service, OpenTelemetry SDK readers to assert on, and polling helpers
// that wait on observable state instead of sleeping.
package testenv
