'use strict';
// stream-client: a grpc-js client that holds one server stream
// (StreamingOutputCall with a blocking request) until the server or the
// transport ends it.
//
//   node stream-client.js target=127.0.0.1:PORT
//
// stdout: {"event":"state",...} for each connectivity state change,
// {"event":"log",...} for grpc-js's ERROR log lines, then
// {"event":"status","code":..,"codeName":..,"details":..} with the stream's
// final status, {"event":"done"}, and it closes and exits 0.

const { grpc, TestService, blockingStreamRequest, emit, installLogger, statusFields, args, failsafe } =
  require('./lib.js');

const a = args();
installLogger();
failsafe(120000);

const Client = grpc.makeGenericClientConstructor(TestService, 'TestService');
const client = new Client(a.target, grpc.credentials.createInsecure(), {});
const channel = client.getChannel();
let finished = false;

function watch(state) {
  channel.watchConnectivityState(state, Infinity, (err) => {
    if (err || finished) return;
    const next = channel.getConnectivityState(false);
    emit('state', { state: grpc.connectivityState[next] });
    watch(next);
  });
}
watch(channel.getConnectivityState(false));

const call = client.StreamingOutputCall(blockingStreamRequest);
call.on('metadata', () => emit('headers', {}));
call.on('data', () => emit('message', {}));
call.on('error', () => {}); // the status event carries it
call.on('status', (s) => {
  emit('status', statusFields(s));
  finished = true;
  emit('done', {});
  client.close();
});
