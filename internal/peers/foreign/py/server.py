"""server: a C-core server (Python grpcio) of grpc.health.v1.Health and
grpc.testing.TestService.

    /usr/bin/python3 server.py '{"args": {"grpc.max_connection_age_ms": 2000}}'

"args" are C-core channel arguments, passed to grpc.server as they are.

It listens on 127.0.0.1 on a port the OS picks and reports it:
    {"event":"listening","port":N}
Health/Check answers the current serving status (SERVING at first).
Health/Watch sends it, then each change, until the call ends.
EmptyCall answers at once. StreamingOutputCall sends its response headers
and never answers. UnaryCall waits for "release" on stdin, then fails with
UNAVAILABLE "overloaded", as an overloaded application would. Every call but
EmptyCall reports {"event":"call","method":..} when it starts, and Watch
and StreamingOutputCall {"event":"cancelled","method":..} when they end.

stdin: "health <STATUS>" sets the serving status; "release" releases the
UnaryCalls; "stop <grace seconds>" calls server.stop(grace) and reports
{"event":"stopped"} once the server stopped.
"""

from concurrent import futures
import queue
import threading

import grpc

from lib import (HEALTH_SERVICE, SERVING_STATUS, TEST_SERVICE, channel_options,
                 commands, config, emit, encode_health, failsafe, raw)


class Health:
    """The serving status, and a condition Watch calls wait on."""

    def __init__(self):
        self.cond = threading.Condition()
        self.status = 'SERVING'
        self.version = 0

    def set(self, status):
        with self.cond:
            self.status = status
            self.version += 1
            self.cond.notify_all()

    def check(self, request, context):
        emit('call', method='Check')
        with self.cond:
            return encode_health(self.status)

    def watch(self, request, context):
        emit('call', method='Watch')
        done = threading.Event()

        def ended():
            emit('cancelled', method='Watch')
            done.set()
            with self.cond:
                self.cond.notify_all()
        context.add_callback(ended)
        seen = -1
        while True:
            with self.cond:
                while self.version == seen and not done.is_set():
                    self.cond.wait()
                if done.is_set():
                    return
                seen = self.version
                status = self.status
            yield encode_health(status)


health = Health()
release = threading.Event()


def empty_call(request, context):
    return b''


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
    cfg = config()
    failsafe(600)
    # Each Watch and StreamingOutputCall holds a worker thread.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=cfg.get('workers', 64)),
                         options=channel_options(cfg.get('args')))
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler(TEST_SERVICE, {
            'EmptyCall': grpc.unary_unary_rpc_method_handler(
                empty_call, request_deserializer=raw, response_serializer=raw),
            'UnaryCall': grpc.unary_unary_rpc_method_handler(
                unary_call, request_deserializer=raw, response_serializer=raw),
            'StreamingOutputCall': grpc.unary_stream_rpc_method_handler(
                streaming_output_call, request_deserializer=raw, response_serializer=raw),
        }),
        grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
            'Check': grpc.unary_unary_rpc_method_handler(
                health.check, request_deserializer=raw, response_serializer=raw),
            'Watch': grpc.unary_stream_rpc_method_handler(
                health.watch, request_deserializer=raw, response_serializer=raw),
        }),
    ))
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
        elif words[0] == 'health' and len(words) > 1 and words[1] in SERVING_STATUS:
            health.set(words[1])
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
