"""ASGI 3 hosting: ``barehttp asgi MODULE:APP`` on an asyncio event loop."""
