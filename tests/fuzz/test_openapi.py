"""/api/openapi.json: served by the stack, generated from the features, and complete — every
api/ function file answers at least one documented path, every tRPC procedure is there with
its method, input and output schema."""

from __future__ import annotations

import re

import httpx
import schemathesis

from dev.env import ROOT
from dev.stack import Stack
from lib import openapi
from lib.features import BUNDLE
from lib.vercel_project import VercelConfig, discover_functions


def served(stack: Stack) -> dict:
    response = httpx.get(f"{stack.api_url}/api/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_the_served_document_is_the_generated_one_and_schemathesis_loads_it(stack: Stack):
    document = served(stack)
    assert document == openapi.document(BUNDLE)
    assert document["openapi"].startswith("3.1")
    operations = [r.ok() for r in schemathesis.openapi.from_dict(document).get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in document["paths"].values())


def test_every_procedure_is_an_operation_with_its_method_and_schemas():
    document = openapi.document(BUNDLE)
    for procedure in BUNDLE.router:
        methods = document["paths"][f"/api/trpc/{procedure.path}"]
        method = "get" if procedure.kind == "query" else "post"
        operation = methods[method]
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/TrpcError"
        }
        if procedure.input is None:
            assert "parameters" not in operation and "requestBody" not in operation
        elif method == "get":
            assert operation["parameters"][0]["name"] == "input"
        else:
            assert operation["requestBody"]["required"] is True
        assert operation["security"] == ([{"userToken": []}] if procedure.auth else [])


def test_every_function_file_answers_a_documented_path():
    document = openapi.document(BUNDLE)
    config = VercelConfig.load(ROOT)
    functions = discover_functions(ROOT)

    def function_of(url: str) -> str | None:
        for function in functions:
            if function.matches(url):
                return str(function.path.relative_to(ROOT))
        for rewrite in config.rewrites:
            target = rewrite.apply(url)
            if target is not None:
                return function_of(target.split("?", 1)[0])
        return None

    documented = {function_of(re.sub(r"\{[^}]+\}", "x1", path)) for path in document["paths"]}
    every = {str(f.path.relative_to(ROOT)) for f in functions}
    assert every - documented == set(), "functions no operation documents"
    assert None not in documented, "a documented path no function serves"


def test_errors_are_documented_as_closed_shapes():
    schemas = openapi.document(BUNDLE)["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"]["additionalProperties"] is False
    assert schemas["TrpcErrorShape"]["properties"]["data"]["additionalProperties"] is False
