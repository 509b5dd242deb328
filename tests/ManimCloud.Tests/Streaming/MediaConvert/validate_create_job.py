"""Checks CreateJob request bodies (MediaConvert REST/JSON, wire names) against botocore's service model on disk.

Reads a JSON array of request bodies on stdin; prints a JSON array of problems (empty when every body is valid) and
exits 1 when there are any. Two passes per body:
  1. the wire JSON is mapped to botocore's member names through each shape's locationName (an unknown field is a
     problem), then botocore's own ParamValidator checks it against CreateJob's input shape (required members,
     types, and the `min` constraints it knows);
  2. a walk of the same shape tree checks what ParamValidator does not: enum values, `max` lengths and values,
     `min` values of numbers, and string patterns.
"""
import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator

model = botocore.session.get_session().get_service_model("mediaconvert", api_version="2017-08-29")
operation = model.operation_model("CreateJob")
problems = []


def to_members(shape, value, path):
    """Wire names -> member names, reporting fields the shape does not have."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return value
        by_wire = {(m.serialization.get("name") or name): name for name, m in shape.members.items()}
        out = {}
        for key, item in value.items():
            member = by_wire.get(key)
            if member is None:
                problems.append(f"{path}.{key}: not a field of {shape.name}")
                continue
            out[member] = to_members(shape.members[member], item, f"{path}.{key}")
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_members(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_members(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    return value


def walk(shape, value, path):
    """Enums, max, number min and patterns: what ParamValidator leaves unchecked."""
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, item in value.items():
            if name in shape.members:
                walk(shape.members[name], item, f"{path}.{name}")
        return
    if shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, v in enumerate(value):
            walk(shape.member, v, f"{path}[{i}]")
        return
    if shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            walk(shape.key, k, f"{path} key {k!r}")
            walk(shape.value, v, f"{path}.{k}")
        return
    if shape.type_name == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None) or meta.get("enum")
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} is not one of {enum}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{path}: {len(value)} characters, at least {meta['min']} needed")
        if "pattern" in meta and re.search(meta["pattern"], value) is None:
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        return
    if shape.type_name in ("integer", "long", "double", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above the maximum {meta['max']}")


bodies = json.load(sys.stdin)
for index, body in enumerate(bodies):
    where = f"request[{index}]"
    params = to_members(operation.input_shape, body, where)
    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        problems.append(f"{where}: botocore ParamValidator: {report.generate_report()}")
    walk(operation.input_shape, params, where)

print(json.dumps(problems, indent=1))
sys.exit(1 if problems else 0)
