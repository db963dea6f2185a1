"""client: a C-core client (Python grpcio) of grpc.testing.TestService.

    /usr/bin/python3 client.py target=127.0.0.1:PORT [stream=1] \
        [grpc.<channel arg>=<int> ...]

Channel arguments given on the command line are passed to the channel:
grpc.keepalive_time_ms, grpc.keepalive_timeout_ms,
grpc.keepalive_permit_without_calls, grpc.http2.max_pings_without_data.

It reports each connectivity state change as {"event":"state","state":..}.
With stream=1 it opens StreamingOutputCall with a blocking request, reports
{"event":"headers"} when the server's headers arrive and
{"event":"status","code":..,"codeName":..,"details":..} when the call ends;
with stream=0 it makes one EmptyCall and reports its status the same way.
It then keeps the channel until the harness writes "close" on stdin, which
closes the channel and reports {"event":"closed"}.
"""

import threading

import grpc

from lib import (BLOCKING_STREAM_REQUEST, EMPTY_CALL, STREAMING_OUTPUT_CALL,
                 args, channel_options, commands, emit, failsafe, raw, status_fields)

ARGS = [
    'grpc.keepalive_time_ms',
    'grpc.keepalive_timeout_ms',
    'grpc.keepalive_permit_without_calls',
    'grpc.http2.max_pings_without_data',
]


def main():
    a = args()
    failsafe(300)
    channel = grpc.insecure_channel(a['target'], options=channel_options(a, ARGS))
    channel.subscribe(lambda s: emit('state', state=s.name), try_to_connect=True)
    closed = threading.Event()

    def command(words):
        if words[0] == 'close':
            channel.close()
            emit('closed')
            closed.set()
    commands(command)

    if a.get('stream') == '1':
        call = channel.unary_stream(STREAMING_OUTPUT_CALL, request_serializer=raw,
                                    response_deserializer=raw)(BLOCKING_STREAM_REQUEST, wait_for_ready=True)
        try:
            call.initial_metadata()
            emit('headers')
            for _ in call:
                emit('message')
        except grpc.RpcError:
            pass
        emit('status', **status_fields(call.code(), call.details()))
    else:
        try:
            channel.unary_unary(EMPTY_CALL, request_serializer=raw,
                                response_deserializer=raw)(b'', wait_for_ready=True)
            emit('status', **status_fields(grpc.StatusCode.OK, ''))
        except grpc.RpcError as e:
            emit('status', **status_fields(e.code(), e.details()))
    closed.wait()


if __name__ == '__main__':
    main()
