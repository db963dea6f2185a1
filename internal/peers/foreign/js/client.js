'use strict';
// client: a grpc-js client of grpc.health.v1.Health and
// grpc.testing.TestService.
//
//   node client.js '{"target": "127.0.0.1:PORT", "call": "watch",
//                    "options": {"grpc.keepalive_time_ms": 4000}}'
//
// "options" are grpc-js channel options, passed to the client as they are.
// The channel connects at once and reports each connectivity state change
// as {"event":"state","state":..}; grpc-js's ERROR log lines are reported as
// {"event":"log","text":..}. "call" names a first call to make:
//   empty   TestService/EmptyCall
//   stream  TestService/StreamingOutputCall with a request grpcpulse's Go
//           test service holds open until the client goes away
//   check   Health/Check
//   watch   Health/Watch, held open
// A streaming call reports {"event":"headers"} when the server's headers
// arrive, and each call {"event":"message","method":..,"health":..} for each
// response and {"event":"status","method":..,"code":..,"codeName":..,
// "details":..} when it ends.
//
// stdin: "call <kind>" makes another call; "cancel" cancels the calls
// still running; "close" closes the client and reports {"event":"closed"}.
// stdin's end closes the client and exits.
//
// With "exitWhenIdle": true it reads no stdin: grpc-js unrefs its HTTP/2
// session while no call is active (transport.ts), so once the channel is
// connected and idle nothing keeps the event loop alive, and Node exits with
// the connection open, as a short-lived Node program (a CLI, a job) that
// forgets to close its channel does.

const { grpc, TestService, HealthService, blockingStreamRequest, decodeHealth, emit, installLogger, statusFields, config, commands, failsafe } =
  require('./lib.js');

const cfg = config();
installLogger();
failsafe(600000);

const Test = grpc.makeGenericClientConstructor(TestService, 'TestService');
const Health = grpc.makeGenericClientConstructor(HealthService, 'Health');
const client = new Test(cfg.target, grpc.credentials.createInsecure(), cfg.options || {});
// The health client shares the test client's channel.
const health = new Health(cfg.target, grpc.credentials.createInsecure(), { channelOverride: client.getChannel() });
const channel = client.getChannel();
let closed = false;
const running = new Set();

function watch(state) {
  channel.watchConnectivityState(state, Infinity, (err) => {
    if (err || closed) return;
    const next = channel.getConnectivityState(false);
    emit('state', { state: grpc.connectivityState[next] });
    watch(next);
  });
}
watch(channel.getConnectivityState(true));

// kind: [client, method, short name, request]
const calls = {
  empty: [client, 'EmptyCall', Buffer.alloc(0)],
  stream: [client, 'StreamingOutputCall', blockingStreamRequest],
  check: [health, 'Check', Buffer.alloc(0)],
  watch: [health, 'Watch', Buffer.alloc(0)],
};

function start(kind) {
  const c = calls[kind];
  if (!c) return;
  const [stub, method, request] = c;
  const healthOf = (msg) => (stub === health ? decodeHealth(msg) : '');
  const ended = (s) => {
    running.delete(call);
    emit('status', { method, ...statusFields(s) });
  };
  let call;
  if (method === 'StreamingOutputCall' || method === 'Watch') {
    call = stub[method](request);
    call.on('metadata', () => emit('headers', { method }));
    call.on('data', (msg) => emit('message', { method, health: healthOf(msg) }));
    call.on('error', () => {}); // the status event carries it
    call.on('status', ended);
  } else {
    call = stub[method](request, (err, msg) => {
      if (!err) emit('message', { method, health: healthOf(msg) });
    });
    call.on('status', ended);
  }
  running.add(call);
}

function close() {
  if (closed) return;
  closed = true;
  client.close();
  emit('closed', {});
}

if (!cfg.exitWhenIdle) {
  commands((words) => {
    if (words[0] === 'call') start(words[1]);
    else if (words[0] === 'cancel') for (const c of [...running]) c.cancel();
    else if (words[0] === 'close') close();
  }, () => {
    close();
    process.exit(0);
  });
}
if (cfg.call) start(cfg.call);
