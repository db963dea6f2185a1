//go:build !linux

package wire

import (
	"net"

	"google.golang.org/grpc/mem"
)

// rawReader is Linux-only, as in grpc-go, which reads a bare conn through a
// bufio.Reader elsewhere: so must a Conn.
type rawReader struct{}

func newRawReader(net.Conn) (rawReader, bool) { return rawReader{}, false }

func (*rawReader) bind() {}

func (*rawReader) readOnReady(int, mem.BufferPool) (*[]byte, int, error) {
	panic("wire: raw reads are not supported on this platform")
}
