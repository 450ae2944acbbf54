"""moto_server with DynamoDB's per-item atomicity, for the state tests and the fleet
simulation (tests/src/lib.rs, MotoServer::start_serial).

DynamoDB decides a conditional write's condition and the write atomically. moto's backend
takes no lock, so two concurrent conditional writes of one item can both pass there (seen
in the fleet simulation: 4 requests through a limit of 3). Here every request is handled
under one lock; connections are still accepted concurrently (werkzeug's threaded server),
so an idle connection never blocks the others.
"""

import sys
import threading

import moto.server as server

_lock = threading.Lock()
_run_simple = server.run_simple


def _one_at_a_time(app):
    def handle(environ, start_response):
        with _lock:
            return list(app(environ, start_response))

    return handle


def _run_locked(host, port, app, **options):
    return _run_simple(host, port, _one_at_a_time(app), **options)


server.run_simple = _run_locked
sys.exit(server.main())
