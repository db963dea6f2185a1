'use strict';
// ping-client: a grpc-js client whose keepalive pings faster than the
// server's enforcement policy allows.
//
//   node ping-client.js target=127.0.0.1:PORT keepaliveMs=100 stream=0|1
//
// It connects with grpc.keepalive_time_ms=keepaliveMs and
// grpc.keepalive_permit_without_calls=1, optionally holds a server stream
// (StreamingOutputCall with a blocking request) open, and reports on stdout:
//   {"event":"state","state":"READY"}         each connectivity state change
//   {"event":"log","text":"..."}              grpc-js's ERROR log lines
//   {"event":"status","code":..,"details":..} the stream's final status
//   {"event":"done"}                          then it closes and exits 0
// It is done once the channel has left READY after being READY, grpc-js has
// logged that the server rejected its pings, and (stream=1) the stream has
// ended.

const { grpc, TestService, blockingStreamRequest, emit, installLogger, statusFields, args, failsafe } =
  require('./lib.js');

const a = args();
const keepaliveMs = Number(a.keepaliveMs || '100');
const withStream = a.stream === '1';

let wasReady = false;
let leftReady = false;
let rejected = false;
let streamEnded = !withStream;
let finished = false;
let client = null;

// grpc-js unrefs its HTTP/2 session while no call is active (transport.ts),
// so an idle channel does not keep Node running: hold the event loop open
// until the program is done.
const hold = setInterval(() => {}, 1 << 30);

function maybeDone() {
  if (finished || !leftReady || !rejected || !streamEnded) return;
  finished = true;
  emit('done', {});
  client.close();
  clearInterval(hold);
}

// grpc-js logs "Connection to ... rejected by server because of excess
// pings. Increasing ping interval to N ms" when a GOAWAY ENHANCE_YOUR_CALM
// "too_many_pings" ends a transport (subchannel.ts).
installLogger((text) => {
  if (text.includes('excess pings')) {
    rejected = true;
    process.nextTick(maybeDone);
  }
});
failsafe(120000);

const Client = grpc.makeGenericClientConstructor(TestService, 'TestService');
client = new Client(a.target, grpc.credentials.createInsecure(), {
  'grpc.keepalive_time_ms': keepaliveMs,
  'grpc.keepalive_permit_without_calls': 1,
});
const channel = client.getChannel();

function watch(state) {
  channel.watchConnectivityState(state, Infinity, (err) => {
    if (err || finished) return;
    const next = channel.getConnectivityState(false);
    emit('state', { state: grpc.connectivityState[next] });
    if (next === grpc.connectivityState.READY) wasReady = true;
    else if (wasReady) leftReady = true;
    maybeDone();
    if (!finished) watch(next);
  });
}
watch(channel.getConnectivityState(true));

if (withStream) {
  const call = client.StreamingOutputCall(blockingStreamRequest);
  call.on('data', () => emit('message', {}));
  call.on('error', () => {}); // the status event carries it
  call.on('status', (s) => {
    emit('status', statusFields(s));
    streamEnded = true;
    maybeDone();
  });
}
