'use strict';
// server: a grpc-js server of grpc.health.v1.Health and
// grpc.testing.TestService.
//
//   node server.js '{"options": {"grpc.max_connection_age_ms": 2000}}'
//
// "options" are grpc-js server options, passed to new grpc.Server as they
// are. It listens on 127.0.0.1 on a port the OS picks and reports it:
//   {"event":"listening","port":N}
// Health/Check answers the current serving status (SERVING at first).
// Health/Watch sends it, then each change, until the call ends. EmptyCall
// answers at once. StreamingOutputCall sends its response headers and never
// answers. UnaryCall waits for "release" on stdin, then fails with
// UNAVAILABLE "overloaded". Every call but EmptyCall reports
// {"event":"call","method":..} when it starts, and Watch and
// StreamingOutputCall {"event":"cancelled","method":..} when they end.
//
// stdin: "health <STATUS>" sets the serving status; "release" releases the
// UnaryCalls; "stop <grace seconds>" shuts the server down gracefully
// (tryShutdown), forces it (forceShutdown) after the grace, and reports
// {"event":"stopped"} once it stopped.

const { grpc, TestService, HealthService, servingStatus, encodeHealth, emit, installLogger, config, commands, failsafe } =
  require('./lib.js');

const cfg = config();
installLogger();
failsafe(600000);

let health = 'SERVING';
const watchers = new Set();
const released = [];
let isReleased = false;

const server = new grpc.Server(cfg.options || {});
server.addService(TestService, {
  EmptyCall: (_call, callback) => callback(null, Buffer.alloc(0)),
  UnaryCall: (_call, callback) => {
    emit('call', { method: 'UnaryCall' });
    const fail = () => callback({ code: grpc.status.UNAVAILABLE, details: 'overloaded' });
    if (isReleased) fail();
    else released.push(fail);
  },
  StreamingOutputCall: (call) => {
    call.on('cancelled', () => emit('cancelled', { method: 'StreamingOutputCall' }));
    call.sendMetadata(new grpc.Metadata());
    emit('call', { method: 'StreamingOutputCall' });
  },
});
server.addService(HealthService, {
  Check: (_call, callback) => {
    emit('call', { method: 'Check' });
    callback(null, encodeHealth(health));
  },
  Watch: (call) => {
    emit('call', { method: 'Watch' });
    watchers.add(call);
    call.on('cancelled', () => {
      watchers.delete(call);
      emit('cancelled', { method: 'Watch' });
    });
    call.write(encodeHealth(health));
  },
});

commands((words) => {
  if (words[0] === 'health' && servingStatus.includes(words[1])) {
    health = words[1];
    for (const w of watchers) w.write(encodeHealth(health));
  } else if (words[0] === 'release') {
    isReleased = true;
    for (const f of released.splice(0)) f();
  } else if (words[0] === 'stop') {
    const graceMs = Number(words[1] || '0') * 1000;
    const force = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      emit('stopped', {});
    });
  }
}, () => process.exit(0));

server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    emit('error', { details: err.message });
    process.exit(2);
  }
  emit('listening', { port });
});
