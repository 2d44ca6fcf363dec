"""The HTTP API behind API Gateway: its error contract, resolver and OpenAPI document."""
