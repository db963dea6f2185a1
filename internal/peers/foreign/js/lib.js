'use strict';
// Shared by the grpc-js peer programs: the methods they serve and call,
// described by hand with raw Buffer (de)serializers so that no .proto file
// or protobuf library is needed, and the line protocol of the Go package
// that starts them (internal/peers/foreign).
//
// Each program takes one argument, a JSON object (its configuration).
// stdout carries one JSON object per line, each with an "event" field.
// stdin carries commands, one per line; its end ends the program.
// stderr carries grpc-js's own log and trace output, for failure messages.

const grpc = require('@grpc/grpc-js');

const raw = (b) => b;

function method(path, responseStream) {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  };
}

// Every message is passed through as bytes: the requests are hand-encoded
// below, and only health responses are decoded.
const TestService = {
  EmptyCall: method('/grpc.testing.TestService/EmptyCall', false),
  UnaryCall: method('/grpc.testing.TestService/UnaryCall', false),
  StreamingOutputCall: method('/grpc.testing.TestService/StreamingOutputCall', true),
};
const HealthService = {
  Check: method('/grpc.health.v1.Health/Check', false),
  Watch: method('/grpc.health.v1.Health/Watch', true),
};

// StreamingOutputCallRequest{response_parameters: [{size: -1}]}: field 2
// (length-delimited, 11 bytes) holding field 1 (varint) = -1 as a 10-byte
// two's-complement varint. grpcpulse's Go test service (internal/testenv)
// reads a negative size as "block until the client goes away".
const blockingStreamRequest = Buffer.from([
  0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
]);

// grpc.health.v1.HealthCheckResponse.ServingStatus.
const servingStatus = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

// HealthCheckResponse{status}: field 1, a varint (omitted for UNKNOWN,
// proto3's default).
function encodeHealth(name) {
  const n = servingStatus.indexOf(name);
  return n > 0 ? Buffer.from([0x08, n]) : Buffer.alloc(0);
}

function decodeHealth(b) {
  if (b.length >= 2 && b[0] === 0x08 && b[1] < servingStatus.length) return servingStatus[b[1]];
  return b.length === 0 ? 'UNKNOWN' : 'INVALID';
}

function emit(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

// grpc-js logs at ERROR what an application operator would see (for
// example "rejected by server because of excess pings"); those lines are
// also reported on stdout as {"event":"log"} so that tests can assert on
// them. Everything else (traces when GRPC_TRACE is set) goes to stderr.
function installLogger() {
  const text = (args) => args.map(String).join(' ');
  grpc.setLogger({
    error: (...args) => {
      emit('log', { severity: 'ERROR', text: text(args) });
      process.stderr.write('E ' + text(args) + '\n');
    },
    info: (...args) => process.stderr.write('I ' + text(args) + '\n'),
    debug: (...args) => process.stderr.write('D ' + text(args) + '\n'),
  });
}

function statusFields(s) {
  return { code: s.code, codeName: grpc.status[s.code], details: s.details };
}

// config parses the JSON object given as the only argument.
function config() {
  if (process.argv.length !== 3) throw new Error('usage: node ' + process.argv[1] + ' CONFIG_JSON');
  return JSON.parse(process.argv[2]);
}

// commands calls handle(words) for each line the Go side writes on stdin;
// stdin's end (the Go side is done or gone) calls onEnd.
function commands(handle, onEnd) {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const words = buf.slice(0, i).trim().split(/\s+/).filter((w) => w);
      buf = buf.slice(i + 1);
      if (words.length) handle(words);
    }
  });
  process.stdin.on('end', onEnd);
}

// failsafe ends the program if the Go side never does: a test that hangs
// is reported by the Go side, which kills its children when it ends. The
// timer is unref'd: it never keeps a finished program alive.
function failsafe(ms) {
  setTimeout(() => {
    emit('failsafe', { afterMs: ms });
    process.exit(3);
  }, ms).unref();
}

module.exports = {
  grpc,
  TestService,
  HealthService,
  blockingStreamRequest,
  servingStatus,
  encodeHealth,
  decodeHealth,
  emit,
  installLogger,
  statusFields,
  config,
  commands,
  failsafe,
};
