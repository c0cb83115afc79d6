"""ASGI entry point for process managers (``uvicorn civiclink.asgi:app --workers N``): settings from the
environment, built once per process."""

from civiclink.app import create_app
from civiclink.config import get_settings

app = create_app(get_settings())
