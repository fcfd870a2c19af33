"""Checks answers against an OpenAPI 3.1 document with independent tools: the document itself
with openapi-spec-validator, and each answer's body with jsonschema (JSON Schema 2020-12, the
dialect of OpenAPI 3.1).

Usage: openapi_check.py DOCUMENT.json ANSWERS.json
ANSWERS is a list of {"method", "path" (the route's template), "status", "content_type", "body"}.
Every answer must be documented (its path, method and status) and a JSON body must match the
schema documented for it. Prints each failure and exits non-zero when there is one."""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

document = json.load(open(sys.argv[1]))
answers = json.load(open(sys.argv[2]))
validate(document)

failures = []
for answer in answers:
    where = f'{answer["method"].upper()} {answer["path"]} -> {answer["status"]}'
    operation = document["paths"].get(answer["path"], {}).get(answer["method"].lower())
    if operation is None:
        failures.append(f"{where}: the operation is not documented")
        continue
    response = operation.get("responses", {}).get(str(answer["status"]))
    if response is None:
        failures.append(f"{where}: the status is not documented")
        continue
    media = answer["content_type"].split(";")[0].strip()
    content = response.get("content", {})
    documented = {key.split(";")[0].strip(): value for key, value in content.items()}
    if media not in documented and "*/*" in documented:
        continue
    if media not in documented:
        failures.append(f"{where}: content type {media} is not documented ({sorted(documented)})")
        continue
    if media != "application/json":
        continue
    schema = dict(documented[media].get("schema", {}))
    # References (#/components/...) resolve against a root that holds the components.
    schema["components"] = document.get("components", {})
    validator = Draft202012Validator(schema)
    for error in validator.iter_errors(answer["body"]):
        path = "/".join(str(p) for p in error.absolute_path)
        failures.append(f"{where}: at /{path}: {error.message[:300]}")

for failure in failures:
    print(failure)
print(f"{len(answers)} answers checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
