// Peer: a grpc-java (Netty) server or client of grpc.health.v1.Health and
// grpc.testing.TestService, for the Go package that starts it
// (internal/peers/foreign). No protoc: every method is described by hand
// with a byte-array Marshaller, and messages pass through as bytes.
//
//   java -cp ... Peer server [keepAliveTime=NS] [keepAliveTimeout=NS]
//       [permitKeepAliveTime=NS] [permitKeepAliveWithoutCalls=true|false]
//       [maxConnectionAge=NS] [maxConnectionAgeGrace=NS] [maxConnectionIdle=NS]
//   java -cp ... Peer client target=HOST:PORT [call=empty|stream|check|watch]
//       [keepAliveTime=NS] [keepAliveTimeout=NS] [keepAliveWithoutCalls=true|false]
//
// Each setting is passed to NettyServerBuilder or NettyChannelBuilder; the
// durations are in nanoseconds. A setting left out keeps grpc-java's default.
//
// stdout carries one JSON object per line, each with an "event" field, as
// the Python and Node peers print them. stdin carries commands, one per
// line; its end ends the program. stderr carries grpc-java's log.
//
// The server listens on 127.0.0.1 on a port the OS picks and reports
// {"event":"listening","port":N}. Health/Check answers the serving status
// (SERVING at first); Health/Watch sends it, then each change. EmptyCall
// answers at once; StreamingOutputCall sends its headers and never answers;
// UnaryCall waits for "release", then fails with UNAVAILABLE "overloaded".
// Every call but EmptyCall reports {"event":"call"}, and Watch and
// StreamingOutputCall {"event":"cancelled"} when they end. Commands:
// "health <STATUS>", "release", "stop <grace seconds>" (shutdown, then
// shutdownNow after the grace; reports {"event":"stopped"}).
//
// The client reports connectivity states, and for each call "headers"
// (streaming calls), "message" (with the serving status of health calls)
// and "status". Commands: "call <kind>", "cancel", "close" (shutdownNow;
// reports {"event":"closed"}).

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

public final class Peer {
  private Peer() {}

  static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<byte[]>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream in) {
          try {
            return in.readAllBytes();
          } catch (IOException e) {
            throw Status.INTERNAL.withCause(e).asRuntimeException();
          }
        }
      };

  static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName(name)
        .setRequestMarshaller(BYTES)
        .setResponseMarshaller(BYTES)
        .build();
  }

  static final MethodDescriptor<byte[], byte[]> CHECK =
      method("grpc.health.v1.Health/Check", MethodDescriptor.MethodType.UNARY);
  static final MethodDescriptor<byte[], byte[]> WATCH =
      method("grpc.health.v1.Health/Watch", MethodDescriptor.MethodType.SERVER_STREAMING);
  static final MethodDescriptor<byte[], byte[]> EMPTY_CALL =
      method("grpc.testing.TestService/EmptyCall", MethodDescriptor.MethodType.UNARY);
  static final MethodDescriptor<byte[], byte[]> UNARY_CALL =
      method("grpc.testing.TestService/UnaryCall", MethodDescriptor.MethodType.UNARY);
  static final MethodDescriptor<byte[], byte[]> STREAMING_OUTPUT_CALL =
      method(
          "grpc.testing.TestService/StreamingOutputCall",
          MethodDescriptor.MethodType.SERVER_STREAMING);

  // StreamingOutputCallRequest{response_parameters: [{size: -1}]}: grpcpulse's
  // Go test service reads a negative size as "block until the client goes away".
  static final byte[] BLOCKING_STREAM_REQUEST = {
    0x12, 0x0b, 0x08, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0x01
  };

  static final String[] SERVING_STATUS = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};

  static byte[] encodeHealth(String name) {
    for (int i = 1; i < SERVING_STATUS.length; i++) {
      if (SERVING_STATUS[i].equals(name)) {
        return new byte[] {0x08, (byte) i};
      }
    }
    return new byte[0];
  }

  static String decodeHealth(byte[] b) {
    if (b.length >= 2 && b[0] == 0x08 && b[1] >= 0 && b[1] < SERVING_STATUS.length) {
      return SERVING_STATUS[b[1]];
    }
    return b.length == 0 ? "UNKNOWN" : "INVALID";
  }

  // emit prints one event; fields alternate names and values (numbers stay
  // numbers, anything else is a string).
  static synchronized void emit(String event, Object... fields) {
    StringBuilder sb = new StringBuilder("{\"event\":").append(quote(event));
    for (int i = 0; i + 1 < fields.length; i += 2) {
      sb.append(',').append(quote(String.valueOf(fields[i]))).append(':');
      Object v = fields[i + 1];
      sb.append(v instanceof Number ? v.toString() : quote(v == null ? "" : v.toString()));
    }
    System.out.println(sb.append('}'));
    System.out.flush();
  }

  static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"').toString();
  }

  static void statusEvent(String method, Status s) {
    emit(
        "status",
        "method", method,
        "code", s.getCode().value(),
        "codeName", s.getCode().name(),
        "details", s.getDescription() == null ? "" : s.getDescription());
  }

  static String shortName(MethodDescriptor<?, ?> m) {
    String n = m.getFullMethodName();
    return n.substring(n.lastIndexOf('/') + 1);
  }

  interface Commands {
    void handle(String[] words) throws Exception;
  }

  // readCommands handles stdin's lines until its end, then exits.
  static void readCommands(Commands c) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      String[] words = line.trim().split("\\s+");
      if (words.length > 0 && !words[0].isEmpty()) {
        c.handle(words);
      }
    }
    System.exit(0);
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 1; i < argv.length; i++) {
      int eq = argv[i].indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("argument without '=': " + argv[i]);
      }
      a.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
    }
    Thread failsafe =
        new Thread(
            () -> {
              try {
                Thread.sleep(600_000);
                emit("failsafe", "afterMs", 600_000);
                System.exit(3);
              } catch (InterruptedException e) {
                // not reached: nothing interrupts it
              }
            });
    failsafe.setDaemon(true);
    failsafe.start();
    if (argv.length > 0 && argv[0].equals("server")) {
      server(a);
    } else if (argv.length > 0 && argv[0].equals("client")) {
      client(a);
    } else {
      throw new IllegalArgumentException("usage: Peer server|client key=value...");
    }
  }

  // The server's state: the serving status and the calls that wait on it.
  static final Object lock = new Object();
  static String health = "SERVING";
  static final Set<ServerCallStreamObserver<byte[]>> watchers = new HashSet<>();
  static final List<StreamObserver<byte[]>> held = new ArrayList<>();
  static boolean released;

  static void server(Map<String, String> a) throws Exception {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    TimeUnit ns = TimeUnit.NANOSECONDS;
    if (a.containsKey("keepAliveTime")) b.keepAliveTime(Long.parseLong(a.get("keepAliveTime")), ns);
    if (a.containsKey("keepAliveTimeout")) b.keepAliveTimeout(Long.parseLong(a.get("keepAliveTimeout")), ns);
    if (a.containsKey("permitKeepAliveTime")) b.permitKeepAliveTime(Long.parseLong(a.get("permitKeepAliveTime")), ns);
    if (a.containsKey("permitKeepAliveWithoutCalls")) b.permitKeepAliveWithoutCalls(Boolean.parseBoolean(a.get("permitKeepAliveWithoutCalls")));
    if (a.containsKey("maxConnectionAge")) b.maxConnectionAge(Long.parseLong(a.get("maxConnectionAge")), ns);
    if (a.containsKey("maxConnectionAgeGrace")) b.maxConnectionAgeGrace(Long.parseLong(a.get("maxConnectionAgeGrace")), ns);
    if (a.containsKey("maxConnectionIdle")) b.maxConnectionIdle(Long.parseLong(a.get("maxConnectionIdle")), ns);

    ServerCallHandler<byte[], byte[]> holdOpen =
        (call, headers) -> {
          call.sendHeaders(new Metadata());
          call.request(1);
          emit("call", "method", "StreamingOutputCall");
          return new ServerCall.Listener<byte[]>() {
            @Override
            public void onCancel() {
              emit("cancelled", "method", "StreamingOutputCall");
            }
          };
        };
    b.addService(
        ServerServiceDefinition.builder("grpc.testing.TestService")
            .addMethod(EMPTY_CALL, ServerCalls.asyncUnaryCall((req, obs) -> {
              obs.onNext(new byte[0]);
              obs.onCompleted();
            }))
            .addMethod(UNARY_CALL, ServerCalls.asyncUnaryCall((req, obs) -> {
              emit("call", "method", "UnaryCall");
              synchronized (lock) {
                if (!released) {
                  held.add(obs);
                  return;
                }
              }
              obs.onError(Status.UNAVAILABLE.withDescription("overloaded").asRuntimeException());
            }))
            .addMethod(STREAMING_OUTPUT_CALL, holdOpen)
            .build());
    b.addService(
        ServerServiceDefinition.builder("grpc.health.v1.Health")
            .addMethod(CHECK, ServerCalls.asyncUnaryCall((req, obs) -> {
              emit("call", "method", "Check");
              String h;
              synchronized (lock) {
                h = health;
              }
              obs.onNext(encodeHealth(h));
              obs.onCompleted();
            }))
            .addMethod(WATCH, ServerCalls.asyncServerStreamingCall((req, obs) -> {
              emit("call", "method", "Watch");
              ServerCallStreamObserver<byte[]> so = (ServerCallStreamObserver<byte[]>) obs;
              so.setOnCancelHandler(() -> {
                synchronized (lock) {
                  watchers.remove(so);
                }
                emit("cancelled", "method", "Watch");
              });
              synchronized (lock) {
                watchers.add(so);
                so.onNext(encodeHealth(health));
              }
            }))
            .build());
    Server server = b.build().start();
    emit("listening", "port", server.getPort());
    readCommands(words -> {
      switch (words[0]) {
        case "health":
          if (words.length > 1) {
            synchronized (lock) {
              health = words[1];
              for (ServerCallStreamObserver<byte[]> w : watchers) {
                try {
                  w.onNext(encodeHealth(health));
                } catch (RuntimeException e) {
                  // the call ended meanwhile; its cancel handler removes it
                }
              }
            }
          }
          break;
        case "release":
          List<StreamObserver<byte[]>> fail;
          synchronized (lock) {
            released = true;
            fail = new ArrayList<>(held);
            held.clear();
          }
          for (StreamObserver<byte[]> o : fail) {
            o.onError(Status.UNAVAILABLE.withDescription("overloaded").asRuntimeException());
          }
          break;
        case "stop":
          long graceMs = (long) (Double.parseDouble(words.length > 1 ? words[1] : "0") * 1000);
          server.shutdown();
          Thread t = new Thread(() -> {
            try {
              if (!server.awaitTermination(graceMs, TimeUnit.MILLISECONDS)) {
                server.shutdownNow();
                server.awaitTermination();
              }
              emit("stopped");
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
          t.setDaemon(true);
          t.start();
          break;
        default:
          break;
      }
    });
  }

  static void client(Map<String, String> a) throws Exception {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(a.get("target")).usePlaintext();
    TimeUnit ns = TimeUnit.NANOSECONDS;
    if (a.containsKey("keepAliveTime")) b.keepAliveTime(Long.parseLong(a.get("keepAliveTime")), ns);
    if (a.containsKey("keepAliveTimeout")) b.keepAliveTimeout(Long.parseLong(a.get("keepAliveTimeout")), ns);
    if (a.containsKey("keepAliveWithoutCalls")) b.keepAliveWithoutCalls(Boolean.parseBoolean(a.get("keepAliveWithoutCalls")));
    ManagedChannel ch = b.build();
    watchState(ch, ch.getState(true));
    Set<ClientCall<byte[], byte[]>> running = new HashSet<>();
    if (a.containsKey("call")) {
      call(ch, a.get("call"), running);
    }
    readCommands(words -> {
      switch (words[0]) {
        case "call":
          if (words.length > 1) call(ch, words[1], running);
          break;
        case "cancel":
          List<ClientCall<byte[], byte[]>> calls;
          synchronized (running) {
            calls = new ArrayList<>(running);
          }
          for (ClientCall<byte[], byte[]> c : calls) {
            c.cancel("cancelled by the client", null);
          }
          break;
        case "close":
          ch.shutdownNow();
          emit("closed");
          break;
        default:
          break;
      }
    });
  }

  static void watchState(ManagedChannel ch, ConnectivityState s) {
    ch.notifyWhenStateChanged(s, () -> {
      ConnectivityState next = ch.getState(false);
      emit("state", "state", next.name());
      if (next != ConnectivityState.SHUTDOWN) watchState(ch, next);
    });
  }

  static void call(ManagedChannel ch, String kind, Set<ClientCall<byte[], byte[]>> running) {
    MethodDescriptor<byte[], byte[]> m;
    byte[] req = new byte[0];
    switch (kind) {
      case "empty":
        m = EMPTY_CALL;
        break;
      case "stream":
        m = STREAMING_OUTPUT_CALL;
        req = BLOCKING_STREAM_REQUEST;
        break;
      case "check":
        m = CHECK;
        break;
      case "watch":
        m = WATCH;
        break;
      default:
        return;
    }
    String name = shortName(m);
    boolean isHealth = m == CHECK || m == WATCH;
    boolean streaming = m.getType() == MethodDescriptor.MethodType.SERVER_STREAMING;
    ClientCall<byte[], byte[]> call = ch.newCall(m, CallOptions.DEFAULT.withWaitForReady());
    synchronized (running) {
      running.add(call);
    }
    call.start(new ClientCall.Listener<byte[]>() {
      @Override
      public void onHeaders(Metadata headers) {
        if (streaming) emit("headers", "method", name);
      }

      @Override
      public void onMessage(byte[] msg) {
        emit("message", "method", name, "health", isHealth ? decodeHealth(msg) : "");
        call.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        synchronized (running) {
          running.remove(call);
        }
        statusEvent(name, status);
      }
    }, new Metadata());
    call.sendMessage(req);
    call.halfClose();
    call.request(1);
  }
}
