"""What serves both APIs (native and OpenAI's): the ASGI body guards and Django-level error
pages, each answering in the shape of the API asked."""
