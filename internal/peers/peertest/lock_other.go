//go:build !unix

package peertest

// LockFile is a no-op where flock is unavailable: concurrent test binaries
// could then run the same installation at the same time.
func LockFile(string) (unlock func(), err error) { return func() {}, nil }
