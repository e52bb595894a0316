"""barehttp: an HTTP/1.1 server and small web toolkit, standard library only."""

__version__ = "0.1.0"
