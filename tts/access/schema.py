"""How the API key appears in the OpenAPI document: either of two headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tts.access.authentication.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer",
             "description": "API key as `Authorization: Bearer <key>` (what OpenAI clients "
                            "send). Needed when the server sets TTS_REQUIRE_API_KEY."},
            {"type": "apiKey", "in": "header", "name": "X-API-Key",
             "description": "The same API key in an `X-API-Key` header."},
        ]

    def get_security_requirement(self, auto_schema):
        return [{"bearerAuth": []}, {"apiKeyHeader": []}]
