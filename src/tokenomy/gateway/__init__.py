"""The HTTP server: Tokenomy's own ``/api/...`` routes (and, with later issues, the
OpenAI/Anthropic-compatible ``/v1/...`` proxy).

In: HTTP requests and the frozen settings. Out: JSON responses; errors are always
``{"error": {"type", "message"}}`` with a 4xx status for bad input.
"""

from tokenomy.gateway.app import create_app

__all__ = ["create_app"]
