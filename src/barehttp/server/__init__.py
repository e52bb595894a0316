"""Server layer: sockets, threads, timeouts, signals."""
