"""A plugin written from proto/ alone with grpcio (gRPC C-core), whose calls stay quiet for a long
time, so that a client's keepalive pings meet C-core's ping policy with its default settings.

Usage: quiet_plugin.py <repo>/proto <out-dir> <socket-path> <mode> [<seconds>]
  drain <seconds>  a Flavor whose Drain answers after <seconds>
  watch            an Instance whose WatchInstances sends RESYNC, then nothing until the file
                   <socket-path>.poke appears, then one CREATED event for instance "poked"
Prints "ready" once serving, then one line per call it finished.
"""
import os
import sys
import time
from concurrent import futures

from provision_destroy import generate


def main():
    proto_dir, out_dir, sock, mode = sys.argv[1:5]
    generate(proto_dir, out_dir)
    sys.path.insert(0, out_dir)
    import grpc
    from infrakit.flavor.v1 import flavor_pb2
    from infrakit.flavor.v1 import flavor_pb2_grpc
    from infrakit.instance.v1 import instance_pb2
    from infrakit.instance.v1 import instance_pb2_grpc

    class SlowFlavor(flavor_pb2_grpc.FlavorServicer):
        def __init__(self, seconds):
            self.seconds = seconds

        def Drain(self, request, context):
            time.sleep(self.seconds)
            print(f"drained {request.instance.id} after {self.seconds}s", flush=True)
            return flavor_pb2.DrainResponse()

    class QuietInstance(instance_pb2_grpc.InstanceServicer):
        def WatchInstances(self, request, context):
            yield instance_pb2.InstanceEvent(kind=instance_pb2.INSTANCE_EVENT_KIND_RESYNC, sequence=1)
            poke = sock + ".poke"
            while context.is_active():
                if os.path.exists(poke):
                    print("poked", flush=True)
                    yield instance_pb2.InstanceEvent(
                        kind=instance_pb2.INSTANCE_EVENT_KIND_CREATED,
                        instance=instance_pb2.InstanceDescription(id="poked"),
                        sequence=2)
                    return
                time.sleep(0.2)
            print("watcher left", flush=True)

    # Default server options on purpose: the ping policy under test is C-core's own.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    if mode == "drain":
        flavor_pb2_grpc.add_FlavorServicer_to_server(SlowFlavor(float(sys.argv[5])), server)
    elif mode == "watch":
        instance_pb2_grpc.add_InstanceServicer_to_server(QuietInstance(), server)
    else:
        sys.exit(f"unknown mode {mode!r}: use drain or watch")
    server.add_insecure_port(f"unix:{sock}")
    server.start()
    print(f"ready (grpcio {grpc.__version__})", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
