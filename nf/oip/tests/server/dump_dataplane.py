"""Prints MLServer's own definition of the `inference` gRPC API as JSON, for the proto
conformance test: {"messages": {full name: {field: [number, type, label]}},
"methods": {name: [input type, output type]}}. Types and labels are the numbers of
google.protobuf.FieldDescriptorProto."""

import json

from mlserver.grpc import dataplane_pb2


def walk(desc, out):
    out[desc.full_name] = {f.name: [f.number, f.type, f.label] for f in desc.fields}
    for nested in desc.nested_types:
        walk(nested, out)


messages = {}
for desc in dataplane_pb2.DESCRIPTOR.message_types_by_name.values():
    walk(desc, messages)
service = dataplane_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
methods = {m.name: [m.input_type.full_name, m.output_type.full_name] for m in service.methods}
print(json.dumps({"messages": messages, "methods": methods}))
