"""`/api/v1/docs`: the OpenAPI document as a page people read, server-rendered, no script."""

from __future__ import annotations

from typing import Any

import markdown
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dispatch.content.sanitise import clean_html

router = APIRouter(include_in_schema=False)
_METHODS = ("get", "post", "patch", "put", "delete")


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    return f"[{name}]" if "items" in schema and name else name or schema.get("type", "")


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    document = request.app.openapi()
    operations: dict[str, list[dict[str, Any]]] = {}
    for path, methods in document["paths"].items():
        for method in _METHODS:
            op = methods.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {})
            answer: dict[str, Any] = next(
                (r for code, r in op.get("responses", {}).items() if code.startswith("2")), {}
            )
            media: list[dict[str, Any]] = list(answer.get("content", {}).values())
            answer_schema = media[0].get("schema", {}) if media else {}
            operations.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": "/api/v1" + path,
                    "summary": op.get("summary", ""),
                    "parameters": [
                        (p["name"], p["in"], p.get("required", False), p.get("description", ""))
                        for p in op.get("parameters", [])
                    ],
                    "body": ", ".join(
                        f"{kind}: {_schema_name(v.get('schema', {}))}" for kind, v in body.items()
                    ),
                    "answer": _schema_name(answer_schema),
                }
            )
    return request.app.state.templates.TemplateResponse(
        request,
        "admin/api-docs.html",
        {
            "document": document,
            # The API's own description, Markdown written in this repository, sanitised anyway.
            "description": clean_html(markdown.markdown(document["info"].get("description", ""))),
            "operations": operations,
            "schemas": document.get("components", {}).get("schemas", {}),
        },
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'self'; frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )
