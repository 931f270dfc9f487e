"""What ``OPTIONS`` answers: the endpoint's name and description, not its serializers.

DRF's default metadata describes the request body by instantiating the view's serializer,
which these explicit views do not declare; the OpenAPI schema is where bodies are described.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import BaseMetadata
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView


class EndpointMetadata(BaseMetadata):
    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "schema": "/api/v1/schema/",
        }
