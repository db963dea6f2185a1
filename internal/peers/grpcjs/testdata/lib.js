'use strict';
// Shared by the grpc-js peer programs: the grpc.testing.TestService methods
// they use, described by hand with raw Buffer (de)serializers so that no
// .proto file or protobuf library is needed, and a line protocol on stdout
// that the Go harness (internal/peers/grpcjs) parses.
//
// stdout carries one JSON object per line, each with an "event" field.
// stderr carries grpc-js's own log and trace output, for failure messages.

const grpc = require('@grpc/grpc-js');

const raw = (b) => b;

// Only the methods the scenarios call. Every message is passed through as
// bytes: the requests are hand-encoded below, the responses are ignored.
const TestService = {
  EmptyCall: {
    path: '/grpc.testing.TestService/EmptyCall',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  StreamingOutputCall: {
    path: '/grpc.testing.TestService/StreamingOutputCall',
    requestStream: false,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

// StreamingOutputCallRequest{response_parameters: [{size: -1}]}: field 2
// (length-delimited, 11 bytes) holding field 1 (varint) = -1 as a 10-byte
// two's-complement varint. grpcpulse's Go test service (internal/testenv)
// reads a negative size as "block until the client goes away".
const blockingStreamRequest = Buffer.from([
  0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
]);

function emit(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

// grpc-js logs at ERROR what an application operator would see (for
// example "rejected by server because of excess pings"); those lines are
// also reported on stdout as {"event":"log"} so that tests can assert on
// them, and passed to onError if given. Everything else (traces when
// GRPC_TRACE is set) goes to stderr.
function installLogger(onError) {
  const text = (args) => args.map(String).join(' ');
  grpc.setLogger({
    error: (...args) => {
      emit('log', { severity: 'ERROR', text: text(args) });
      process.stderr.write('E ' + text(args) + '\n');
      if (onError) onError(text(args));
    },
    info: (...args) => process.stderr.write('I ' + text(args) + '\n'),
    debug: (...args) => process.stderr.write('D ' + text(args) + '\n'),
  });
}

function statusFields(s) {
  return { code: s.code, codeName: grpc.status[s.code], details: s.details };
}

// args parses "key=value" command-line arguments.
function args() {
  const out = {};
  for (const a of process.argv.slice(2)) {
    const i = a.indexOf('=');
    if (i < 0) throw new Error('argument without "=": ' + a);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

// failsafe ends the program if the Go side never does: a test that hangs
// is reported by the Go harness, which kills its children when it ends.
// The timer is unref'd: it never keeps a finished program alive.
function failsafe(ms) {
  setTimeout(() => {
    emit('failsafe', { afterMs: ms });
    process.exit(3);
  }, ms).unref();
}

module.exports = {
  grpc,
  TestService,
  blockingStreamRequest,
  emit,
  installLogger,
  statusFields,
  args,
  failsafe,
};
