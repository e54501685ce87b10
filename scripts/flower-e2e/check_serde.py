#!/usr/bin/env python3
"""Reads ClientMessage bytes (one file each, given on the command line) with Flower's own
generated protobuf classes and serde, as a Flower server does, and prints one JSON line per file.
Needs a Flower checkout on PYTHONPATH (src/py) and scripts/flower-e2e/shims. Not run in CI."""
import json
import sys

from flwr.common import parameters_to_ndarrays, serde
from flwr.proto.transport_pb2 import ClientMessage  # pylint: disable=E0611

out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    msg = ClientMessage.FromString(data)
    kind = msg.WhichOneof("msg")
    row = {"file": path, "kind": kind, "reserialized_equal": msg.SerializeToString() == data}
    if kind == "get_parameters_res":
        res = serde.get_parameters_res_from_proto(msg.get_parameters_res)
        row["status"] = res.status.code.name
        row["arrays"] = [[str(a.dtype), list(a.shape)] for a in parameters_to_ndarrays(res.parameters)]
    elif kind == "fit_res":
        res = serde.fit_res_from_proto(msg.fit_res)
        row["status"] = res.status.code.name
        row["num_examples"] = res.num_examples
        row["metrics"] = {k: type(v).__name__ for k, v in res.metrics.items()}
        row["arrays"] = [[str(a.dtype), list(a.shape)] for a in parameters_to_ndarrays(res.parameters)]
    elif kind == "evaluate_res":
        res = serde.evaluate_res_from_proto(msg.evaluate_res)
        row["status"] = res.status.code.name
        row["num_examples"] = res.num_examples
        row["loss"] = res.loss
        row["metrics"] = {k: type(v).__name__ for k, v in res.metrics.items()}
    elif kind == "get_properties_res":
        res = serde.get_properties_res_from_proto(msg.get_properties_res)
        row["status"] = res.status.code.name
        row["properties"] = {k: type(v).__name__ for k, v in res.properties.items()}
    elif kind == "disconnect_res":
        row["reason"] = serde.disconnect_res_from_proto(msg.disconnect_res).reason
    out.append(row)
print(json.dumps(out))
