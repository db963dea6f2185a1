'use strict';
// max-age-server: a grpc-js server with a maximum connection age.
//
//   node max-age-server.js maxAgeMs=2000 graceMs=1000
//
// It listens on 127.0.0.1 on a port the OS picks and reports it:
//   {"event":"listening","port":N}
// StreamingOutputCall never answers: it reports {"event":"call"} and, when
// the call ends, {"event":"cancelled"}. EmptyCall answers at once. The
// server runs until it is killed.

const { grpc, TestService, emit, installLogger, args, failsafe } = require('./lib.js');

const a = args();
installLogger();
failsafe(300000);

const server = new grpc.Server({
  'grpc.max_connection_age_ms': Number(a.maxAgeMs),
  'grpc.max_connection_age_grace_ms': Number(a.graceMs),
});
server.addService(TestService, {
  EmptyCall: (_call, callback) => callback(null, Buffer.alloc(0)),
  StreamingOutputCall: (call) => {
    emit('call', { method: 'StreamingOutputCall' });
    call.on('cancelled', () => emit('cancelled', { method: 'StreamingOutputCall' }));
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    emit('error', { details: err.message });
    process.exit(2);
  }
  emit('listening', { port });
});
