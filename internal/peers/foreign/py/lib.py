"""Shared by the C-core peer programs (Python's grpcio, which wraps gRPC
C-core): the methods they serve and call, passed through as raw bytes so
that no .proto file or generated code is needed, and the line protocol of
the Go package that starts them (internal/peers/foreign).

Each program takes one argument, a JSON object (its configuration).
stdout carries one JSON object per line, each with an "event" field.
stdin carries commands, one per line; its end ends the program.
stderr carries C-core's own log and trace output (GRPC_VERBOSITY,
GRPC_TRACE), for failure messages.
"""

import json
import os
import sys
import threading

import grpc

TEST_SERVICE = 'grpc.testing.TestService'
HEALTH_SERVICE = 'grpc.health.v1.Health'
EMPTY_CALL = '/grpc.testing.TestService/EmptyCall'
STREAMING_OUTPUT_CALL = '/grpc.testing.TestService/StreamingOutputCall'
HEALTH_CHECK = '/grpc.health.v1.Health/Check'
HEALTH_WATCH = '/grpc.health.v1.Health/Watch'

# StreamingOutputCallRequest{response_parameters: [{size: -1}]}: field 2
# (length-delimited, 11 bytes) holding field 1 (varint) = -1 as a 10-byte
# two's-complement varint. grpcpulse's Go test service (internal/testenv)
# reads a negative size as "block until the client goes away".
BLOCKING_STREAM_REQUEST = bytes([
    0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
])

# grpc.health.v1.HealthCheckResponse.ServingStatus.
SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']

_out = threading.Lock()


def raw(b):
    return b


def encode_health(name):
    """HealthCheckResponse{status: name}: field 1, a varint (omitted for
    UNKNOWN, proto3's default)."""
    n = SERVING_STATUS.index(name)
    return bytes([0x08, n]) if n else b''


def decode_health(b):
    if len(b) >= 2 and b[0] == 0x08 and b[1] < len(SERVING_STATUS):
        return SERVING_STATUS[b[1]]
    return 'UNKNOWN' if not b else 'INVALID'


def emit(event, **fields):
    line = json.dumps(dict(event=event, **fields))
    with _out:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def config():
    """The JSON object given as the only argument."""
    if len(sys.argv) != 2:
        raise SystemExit('usage: %s CONFIG_JSON' % sys.argv[0])
    return json.loads(sys.argv[1])


def status_fields(code, details):
    return dict(code=code.value[0], codeName=code.name, details=details or '')


def failsafe(seconds):
    """Ends the program if the Go side never does: a test that hangs is
    reported by the Go side, which kills its children when it ends."""
    def fire():
        emit('failsafe', afterMs=int(seconds * 1000))
        os._exit(3)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()


def commands(handle):
    """Calls handle(words) for each line the Go side writes on stdin, on a
    daemon thread; stdin's end (the Go side is done or gone) ends the
    program with status 0."""
    def loop():
        for line in sys.stdin:
            words = line.split()
            if words:
                handle(words)
        os._exit(0)
    threading.Thread(target=loop, daemon=True).start()


def channel_options(args):
    """The channel arguments of the configuration, in grpcio's form: a list
    of (name, value) with integer or string values."""
    return [(k, v) for k, v in sorted((args or {}).items())]
