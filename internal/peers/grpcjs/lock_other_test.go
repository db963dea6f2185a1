//go:build !unix

package grpcjs_test

// lockFile is a no-op where flock is unavailable: concurrent test binaries
// of this package could then run npm ci at the same time.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
