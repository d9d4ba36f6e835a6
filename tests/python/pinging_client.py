"""A grpcio (gRPC C-core) client that pings its server every second, as a client tuned for fast
failure detection would: it watches an infrakit-instance-file plugin for a while, then
provisions an instance over the same channel and expects the CREATED event on the stream.

Usage: pinging_client.py <repo>/proto <out-dir> <socket-path> [<quiet-seconds>]
Prints one JSON line: {"events": [kinds seen], "error": null or what went wrong}.
"""
import json
import sys
import threading
import time

from provision_destroy import generate


def main():
    proto_dir, out_dir, sock = sys.argv[1:4]
    quiet = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    generate(proto_dir, out_dir)
    sys.path.insert(0, out_dir)
    import grpc
    from infrakit.instance.v1 import instance_pb2 as pb
    from infrakit.instance.v1 import instance_pb2_grpc as rpc

    channel = grpc.insecure_channel(f"unix://{sock}", options=[
        ("grpc.default_authority", "localhost"),
        ("grpc.keepalive_time_ms", 1000),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ])
    stub = rpc.InstanceStub(channel)
    events, error = [], None
    created = threading.Event()
    stream = stub.WatchInstances(pb.WatchInstancesRequest(tags={"client": "pinging"}), timeout=quiet + 30)

    def read():
        nonlocal error
        try:
            for ev in stream:
                events.append(pb.InstanceEventKind.Name(ev.kind))
                if ev.kind == pb.INSTANCE_EVENT_KIND_CREATED:
                    created.set()
                    return
        except grpc.RpcError as e:
            if not created.is_set():
                error = f"{e.code().name}: {e.details()}"
            created.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(quiet)
    if error is None:
        spec = pb.InstanceSpec(properties=b"{}", tags={"client": "pinging"})
        try:
            stub.Provision(pb.ProvisionRequest(spec=spec), timeout=10)
        except grpc.RpcError as e:
            error = f"Provision: {e.code().name}: {e.details()}"
    if not created.wait(20) and error is None:
        error = "no CREATED event within 20s"
    stream.cancel()
    print(json.dumps({"events": events, "error": error}))


if __name__ == "__main__":
    main()
