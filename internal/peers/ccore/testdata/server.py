"""server: a C-core server (Python grpcio) of grpc.testing.TestService.

    /usr/bin/python3 server.py [grpc.<channel arg>=<int> ...]

Channel arguments given on the command line are passed to the server:
grpc.max_connection_age_ms, grpc.max_connection_age_grace_ms,
grpc.max_connection_idle_ms, grpc.keepalive_time_ms,
grpc.keepalive_timeout_ms, grpc.http2.min_ping_interval_without_data_ms,
grpc.http2.max_ping_strikes, grpc.keepalive_permit_without_calls.

It listens on 127.0.0.1 on a port the OS picks and reports it:
    {"event":"listening","port":N}
EmptyCall answers at once. StreamingOutputCall sends its response headers,
reports {"event":"call"} and never answers; when the call ends it reports
{"event":"cancelled"}. UnaryCall reports {"event":"call"} and waits for
"release" on stdin, then fails with UNAVAILABLE "overloaded", as an
overloaded application would. On stdin, "stop <grace seconds>" calls
server.stop(grace) and reports {"event":"stopped"} once the server stopped.
"""

from concurrent import futures
import queue
import threading

import grpc

from lib import (SERVICE, args, commands, emit, failsafe, raw, channel_options)

ARGS = [
    'grpc.max_connection_age_ms',
    'grpc.max_connection_age_grace_ms',
    'grpc.max_connection_idle_ms',
    'grpc.keepalive_time_ms',
    'grpc.keepalive_timeout_ms',
    'grpc.keepalive_permit_without_calls',
    'grpc.http2.min_ping_interval_without_data_ms',
    'grpc.http2.max_ping_strikes',
]


def empty_call(request, context):
    return b''


release = threading.Event()


def unary_call(request, context):
    emit('call', method='UnaryCall')
    release.wait()
    context.abort(grpc.StatusCode.UNAVAILABLE, 'overloaded')


def streaming_output_call(request, context):
    done = threading.Event()

    def ended():
        emit('cancelled', method='StreamingOutputCall')
        done.set()
    context.add_callback(ended)
    context.send_initial_metadata(())
    emit('call', method='StreamingOutputCall')
    done.wait()
    return iter(())


def main():
    a = args()
    failsafe(300)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=channel_options(a, ARGS))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        'EmptyCall': grpc.unary_unary_rpc_method_handler(
            empty_call, request_deserializer=raw, response_serializer=raw),
        'UnaryCall': grpc.unary_unary_rpc_method_handler(
            unary_call, request_deserializer=raw, response_serializer=raw),
        'StreamingOutputCall': grpc.unary_stream_rpc_method_handler(
            streaming_output_call, request_deserializer=raw, response_serializer=raw),
    }),))
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()

    stop_requested = threading.Event()
    stopping = queue.Queue()

    def command(words):
        if words[0] == 'stop':
            grace = float(words[1]) if len(words) > 1 else None
            stop_requested.set()
            stopping.put(server.stop(grace))
        elif words[0] == 'release':
            release.set()
    commands(command)
    emit('listening', port=port)
    server.wait_for_termination()
    # Reported here, on the main thread, so that the process cannot exit
    # before it says so; stop may have ended the server before the command
    # thread queued its event.
    if stop_requested.is_set():
        stopping.get().wait()
        emit('stopped')


if __name__ == '__main__':
    main()
