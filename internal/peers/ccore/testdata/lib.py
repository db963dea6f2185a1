"""Shared by the C-core peer programs (Python's grpcio, which wraps gRPC
C-core): the grpc.testing.TestService methods they use, passed through as raw
bytes so that no .proto file or generated code is needed, and a line protocol
on stdout that the Go harness (internal/peers/ccore) parses.

stdout carries one JSON object per line, each with an "event" field.
stderr carries C-core's own log and trace output (GRPC_VERBOSITY,
GRPC_TRACE), for failure messages.
"""

import json
import os
import sys
import threading

import grpc

SERVICE = 'grpc.testing.TestService'
EMPTY_CALL = '/grpc.testing.TestService/EmptyCall'
STREAMING_OUTPUT_CALL = '/grpc.testing.TestService/StreamingOutputCall'

# StreamingOutputCallRequest{response_parameters: [{size: -1}]}: field 2
# (length-delimited, 11 bytes) holding field 1 (varint) = -1 as a 10-byte
# two's-complement varint. grpcpulse's Go test service (internal/testenv)
# reads a negative size as "block until the client goes away".
BLOCKING_STREAM_REQUEST = bytes([
    0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
])

_out = threading.Lock()


def raw(b):
    return b


def emit(event, **fields):
    line = json.dumps(dict(event=event, **fields))
    with _out:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def args():
    """Parses "key=value" command-line arguments."""
    out = {}
    for a in sys.argv[1:]:
        if '=' not in a:
            raise SystemExit('argument without "=": ' + a)
        k, v = a.split('=', 1)
        out[k] = v
    return out


def status_fields(code, details):
    return dict(code=code.value[0], codeName=code.name, details=details or '')


def failsafe(seconds):
    """Ends the program if the Go side never does: a test that hangs is
    reported by the Go harness, which kills its children when it ends."""
    def fire():
        emit('failsafe', afterMs=int(seconds * 1000))
        os._exit(3)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()


def commands(handle):
    """Calls handle(words) for each line the Go harness writes on stdin, on
    a daemon thread; stdin's EOF (the harness went away) ends the program."""
    def loop():
        for line in sys.stdin:
            words = line.split()
            if words:
                handle(words)
        os._exit(0)
    threading.Thread(target=loop, daemon=True).start()


def channel_options(a, names):
    """The C-core channel arguments among names that the command line sets,
    as integers: "grpc.keepalive_time_ms=1000" and so on."""
    return [(n, int(a[n])) for n in names if n in a]
