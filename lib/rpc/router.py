"""A Router is the explicit list of procedures one endpoint serves, grouped by feature:

    ROUTER = router(*system.PROCEDURES, *events.PROCEDURES, *poker.PROCEDURES)

Paths are unique, and no path is a prefix group of another (`poker` and `poker.vote` cannot
both be procedures: the TypeScript AppRouter nests `poker.vote` inside `poker`).
`describe()` is what `GET /api/trpc` lists: every procedure with the JSON Schemas of its input
(validation mode: what a client may send) and output (serialization mode: what it gets back),
sharing one `$defs`. A model whose two schemas differ appears twice, as `<Name>-Input` and
`<Name>-Output` (output fields with defaults are required: a result always has them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import core_schema

from lib.rpc.procedure import Procedure

REF_TEMPLATE = "#/$defs/{model}"


class Schemas(GenerateJsonSchema):
    """Outputs mark fields with defaults required: a serialized value always has them."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


class Router:
    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self._procedures: dict[str, Procedure] = {}
        for procedure in procedures:
            if procedure.path in self._procedures:
                raise ValueError(f"two procedures at {procedure.path!r}")
            self._procedures[procedure.path] = procedure
        for path in self._procedures:
            parts = path.split(".")
            for end in range(1, len(parts)):
                group = ".".join(parts[:end])
                if group in self._procedures:
                    raise ValueError(f"{group!r} is a procedure and also the group of {path!r}")

    def get(self, path: str) -> Procedure | None:
        return self._procedures.get(path)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._procedures.values())

    def __len__(self) -> int:
        return len(self._procedures)

    def __contains__(self, path: object) -> bool:
        return path in self._procedures

    def schemas(self) -> tuple[dict[tuple[str, JsonSchemaMode], Any], dict[str, Any]]:
        """JSON Schemas keyed by (path, "validation" for input | "serialization" for output),
        and the shared `$defs` they refer to (`#/$defs/<Name>`)."""
        inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = []
        for procedure in self:
            if procedure.input_adapter is not None:
                inputs.append((procedure.path, "validation", procedure.input_adapter))
            inputs.append((procedure.path, "serialization", procedure.output_adapter))
        if not inputs:
            return {}, {}
        by_key, top = TypeAdapter.json_schemas(
            inputs, ref_template=REF_TEMPLATE, schema_generator=Schemas
        )
        return dict(by_key), dict(top.get("$defs", {}))

    @cached_property
    def description(self) -> dict[str, Any]:
        """The procedure listing (computed once per router)."""
        by_key, defs = self.schemas()
        return {
            "procedures": [
                {
                    "path": procedure.path,
                    "kind": procedure.kind,
                    "auth": procedure.auth,
                    "rateLimit": None
                    if procedure.rate_limit is None
                    else {"limit": procedure.rate_limit[0], "windowS": procedure.rate_limit[1]},
                    "description": procedure.description,
                    "input": by_key.get((procedure.path, "validation")),
                    "output": by_key[(procedure.path, "serialization")],
                }
                for procedure in self
            ],
            "$defs": defs,
        }


def router(*procedures: Procedure) -> Router:
    """`router(*poker.PROCEDURES, *messaging.PROCEDURES)`: the procedures, in order."""
    return Router(procedures)
