"""A client written from proto/ alone: generates Python stubs with grpcio-tools, then provisions,
describes and destroys an instance on a running infrakit-instance-file plugin.

Usage: provision_destroy.py <repo>/proto <out-dir> <socket-path>
Prints one JSON line with what it saw.
"""
import importlib.resources
import json
import os
import sys

from grpc_tools import protoc


def generate(proto_dir, out_dir):
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    files = []
    for root, _, names in os.walk(proto_dir):
        files += [os.path.join(root, n) for n in names if n.endswith(".proto")]
    rc = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}",
                      f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *files])
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")


def main():
    proto_dir, out_dir, sock = sys.argv[1:4]
    generate(proto_dir, out_dir)
    sys.path.insert(0, out_dir)
    import grpc
    from infrakit.instance.v1 import instance_pb2 as pb
    from infrakit.instance.v1 import instance_pb2_grpc as rpc

    channel = grpc.insecure_channel(f"unix://{sock}", options=[("grpc.default_authority", "localhost")])
    stub = rpc.InstanceStub(channel)
    spec = pb.InstanceSpec(properties=json.dumps({"lang": "python"}).encode(), tags={"client": "python"},
                           init="echo hi", logical_id="py-1")
    created = stub.Provision(pb.ProvisionRequest(spec=spec), timeout=10).id
    listed = stub.DescribeInstances(pb.DescribeInstancesRequest(tags={"client": "python"}, properties=True),
                                    timeout=10).instances
    stub.Destroy(pb.DestroyRequest(id=created, reason=pb.DESTROY_REASON_TERMINATE), timeout=10)
    after = stub.DescribeInstances(pb.DescribeInstancesRequest(tags={"client": "python"}), timeout=10).instances
    try:
        stub.Destroy(pb.DestroyRequest(id=created), timeout=10)
        second = "OK"
    except grpc.RpcError as e:
        second = e.code().name
    print(json.dumps({
        "created": created,
        "listed": [i.id for i in listed],
        "logical_id": listed[0].logical_id if listed else None,
        "properties": json.loads(listed[0].properties) if listed else None,
        "after": [i.id for i in after],
        "second_destroy": second,
    }))


if __name__ == "__main__":
    main()
