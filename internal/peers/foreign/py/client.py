"""client: a C-core client (Python grpcio) of grpc.health.v1.Health and
grpc.testing.TestService.

    /usr/bin/python3 client.py '{"target": "127.0.0.1:PORT", "call": "watch",
                                 "args": {"grpc.keepalive_time_ms": 1000}}'

"args" are C-core channel arguments, passed to the channel as they are.
The channel connects at once and reports each connectivity state change as
{"event":"state","state":..}. "call" names a first call to make:
  empty   TestService/EmptyCall
  stream  TestService/StreamingOutputCall with a request grpcpulse's Go test
          service holds open until the client goes away
  check   Health/Check
  watch   Health/Watch, held open
Every call waits for the channel to be ready. A streaming call reports
{"event":"headers"} when the server's headers arrive, and each call
{"event":"message","method":..,"health":..} for each response and
{"event":"status","method":..,"code":..,"codeName":..,"details":..} when it
ends.

stdin: "call <kind>" makes another call; "cancel" cancels the calls still
running; "close" closes the channel and reports {"event":"closed"}.
"""

import threading

import grpc

from lib import (BLOCKING_STREAM_REQUEST, EMPTY_CALL, HEALTH_CHECK, HEALTH_WATCH,
                 STREAMING_OUTPUT_CALL, channel_options, commands, config,
                 decode_health, emit, failsafe, raw, status_fields)

# kind: (path, short method name, request, server streaming)
CALLS = {
    'empty': (EMPTY_CALL, 'EmptyCall', b'', False),
    'stream': (STREAMING_OUTPUT_CALL, 'StreamingOutputCall', BLOCKING_STREAM_REQUEST, True),
    'check': (HEALTH_CHECK, 'Check', b'', False),
    'watch': (HEALTH_WATCH, 'Watch', b'', True),
}


def main():
    cfg = config()
    failsafe(600)
    channel = grpc.insecure_channel(cfg['target'], options=channel_options(cfg.get('args')))
    channel.subscribe(lambda s: emit('state', state=s.name), try_to_connect=True)
    lock = threading.Lock()
    running = []  # calls that can be cancelled

    def health_of(method, msg):
        return decode_health(msg) if method in ('Check', 'Watch') else ''

    def run(kind):
        path, method, request, streaming = CALLS[kind]
        if streaming:
            call = channel.unary_stream(path, request_serializer=raw,
                                        response_deserializer=raw)(request, wait_for_ready=True)
            with lock:
                running.append(call)
            try:
                call.initial_metadata()
                emit('headers', method=method)
                for msg in call:
                    emit('message', method=method, health=health_of(method, msg))
            except grpc.RpcError:
                pass
            code, details = call.code(), call.details()
        else:
            fut = channel.unary_unary(path, request_serializer=raw,
                                      response_deserializer=raw).future(request, wait_for_ready=True)
            with lock:
                running.append(fut)
            try:
                msg = fut.result()
                emit('message', method=method, health=health_of(method, msg))
                code, details = grpc.StatusCode.OK, ''
            except grpc.RpcError as e:
                code, details = e.code(), e.details()
            except grpc.FutureCancelledError:
                code, details = grpc.StatusCode.CANCELLED, 'Locally cancelled'
        with lock:
            running.remove(call if streaming else fut)
        emit('status', method=method, **status_fields(code, details))

    def start(kind):
        if kind in CALLS:
            threading.Thread(target=run, args=(kind,), daemon=True).start()

    def command(words):
        if words[0] == 'call' and len(words) > 1:
            start(words[1])
        elif words[0] == 'cancel':
            with lock:
                calls = list(running)
            for c in calls:
                c.cancel()
        elif words[0] == 'close':
            channel.close()
            emit('closed')
    commands(command)
    if cfg.get('call'):
        start(cfg['call'])
    threading.Event().wait()


if __name__ == '__main__':
    main()
