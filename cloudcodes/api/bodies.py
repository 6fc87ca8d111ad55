"""Reading a request body: one JSON object, validated into its model (``cloudcodes.api.schemas``), or a 400.

``refusal`` is the one place a pydantic ``ValidationError`` becomes the API's error answer. It
answers the first problem only, naming its field: an unknown field before anything else (a
misspelt field explains the errors that follow from it), then the fields in the order the model
checks them.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import ValidationError

from cloudcodes.api.errors import ApiError
from cloudcodes.api.schemas import RequestBody

Body = TypeVar("Body", bound=RequestBody)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ApiError(400, "duplicate_field", f"The field {key} appears more than once in the body.", key)
        seen[key] = value
    return seen


def json_body() -> dict[str, Any]:
    """The body as one JSON object (UTF-8, no duplicate keys, no NaN), or a 400.

    Read here rather than by pydantic, whose parser keeps the last of duplicate keys without a word.
    """
    raw = request.get_data(cache=True)
    try:
        body = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(
            400, "invalid_json", "The body is not valid JSON (UTF-8). Send one JSON object with the fields."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be one JSON object with the fields, not a list or a value.")
    return body


def read_body(model: type[Body], body: dict[str, Any]) -> Body:
    """``body`` as ``model``, or the ``ApiError`` that refuses it."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise refusal(error, model) from None


def refusal(error: ValidationError, model: type[RequestBody]) -> ApiError:
    problems = error.errors(include_url=False)
    problem = next((found for found in problems if found["type"] == "extra_forbidden"), problems[0])
    kind = problem["type"]
    field = str(problem["loc"][0]) if problem["loc"] else None  # the models are flat: a field, or the body
    if kind == "extra_forbidden":
        name = str(problem["loc"][0])
        fields = ", ".join(model.listed_fields or model.model_fields)
        return ApiError(
            400,
            "unknown_field",
            f"There is no field {name[:60]!r} here; the fields are {fields}. Check its spelling.",
            name[:100],
        )
    if kind == "missing":
        return ApiError(400, "missing_field", f"{field} is required.", field)
    if problem["input"] is None:  # whichever check found it: null is no value
        return ApiError(400, "missing_field", f"{field} is required; it cannot be null.", field)
    # The field types refuse in the API's words (schemas.Refusal), so the type is the API's code.
    return ApiError(400, kind, problem["msg"], field)
