'use strict';
// connect-exit: a grpc-js client that connects and lets Node exit.
//
//   node connect-exit.js target=127.0.0.1:PORT
//
// grpc-js unrefs its HTTP/2 session while no call is active (transport.ts),
// so once the channel is connected and idle nothing keeps the event loop
// alive: Node exits with the connection open and the kernel closes the
// socket, as a short-lived Node program (a CLI, a job) that made a channel
// but no call, or whose calls are done, does when it forgets to close it.
// stdout: {"event":"state",...} for each connectivity state change.

const { grpc, TestService, emit, installLogger, args } = require('./lib.js');

const a = args();
installLogger();

const Client = grpc.makeGenericClientConstructor(TestService, 'TestService');
const client = new Client(a.target, grpc.credentials.createInsecure(), {});
const channel = client.getChannel();

function watch(state) {
  channel.watchConnectivityState(state, Infinity, (err) => {
    if (err) return;
    const next = channel.getConnectivityState(false);
    emit('state', { state: grpc.connectivityState[next] });
    watch(next);
  });
}
watch(channel.getConnectivityState(true));
