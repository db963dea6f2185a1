"""A gRPC C-core server (Python grpcio) of grpc.health.v1.Health.

    /usr/bin/python3 ccore_server.py [grpc.<channel arg>=<int> ...]

It listens on 127.0.0.1 on a port the OS picks, prints "listening <port>",
and serves Check (SERVING) and Watch (SERVING once, then silent until the
call ends), with the channel arguments given. It exits when stdin closes.
"""
import sys
import threading
from concurrent import futures

import grpc


def raw(b):
    return b


def check(request, context):
    return b'\x08\x01'


def watch(request, context):
    yield b'\x08\x01'
    done = threading.Event()
    context.add_callback(done.set)
    done.wait()


def main():
    options = []
    for kv in sys.argv[1:]:
        k, v = kv.split('=', 1)
        options.append((k, int(v)))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=options)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler('grpc.health.v1.Health', {
        'Check': grpc.unary_unary_rpc_method_handler(check, request_deserializer=raw, response_serializer=raw),
        'Watch': grpc.unary_stream_rpc_method_handler(watch, request_deserializer=raw, response_serializer=raw),
    }),))
    port = server.add_insecure_port('127.0.0.1:0')
    server.start()
    print('listening', port, flush=True)
    sys.stdin.read()
    server.stop(None)


if __name__ == '__main__':
    main()
