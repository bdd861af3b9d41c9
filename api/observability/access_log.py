"""The access log: one JSON object per request on the logger `crm.access` (written by the request
middleware), and the logging set-up `crm serve` hands uvicorn so those lines reach stdout."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import weakref

ACCESS_LOGGER = "crm.access"
log = logging.getLogger(ACCESS_LOGGER)
BARE = "%(message)s"   # the access lines' format: the JSON object alone
_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps(separators=) builds one per call


def write(fields: dict) -> None:
    """One line. Under `crm serve` (the logger's one handler a BatchedStreamHandler, as `uvicorn_log_config`
    sets it up) the line goes to that handler's stream as logging would write it, without a LogRecord: for an
    answer without database work (a shed 503) logging's record, caller look-up and handler chain were a fifth of
    the worker's CPU. Any other set-up (another handler, a filter, propagation to the root logger as under
    pytest's caplog) gets the record, the fields riding on it whole as `record.access`."""
    line = _encode(fields)
    sink = _direct_sink()
    if sink is not None:
        sink.write_line(line)
    else:
        log.info(line, extra={"access": fields})


def _direct_sink() -> BatchedStreamHandler | None:
    handlers = log.handlers
    if len(handlers) != 1 or log.propagate or log.filters:
        return None
    handler = handlers[0]
    if type(handler) is not BatchedStreamHandler or handler.filters or handler.level > logging.INFO:
        return None
    if handler.formatter is not None and handler.formatter._fmt != BARE:
        return None
    return handler


FLUSH_SECONDS = 0.25   # how late an access line may reach the log at most


class BatchedStreamHandler(logging.StreamHandler):
    """A StreamHandler that leaves flushing to a timer: the stream (stdout to a file or pipe) is block-buffered,
    so lines go out in one write per few kilobytes and at least every FLUSH_SECONDS, instead of a write system
    call per request (a worker answering hundreds of requests a second spent a sixth of its CPU on its access
    lines). The flushing thread is a daemon; logging's shutdown flushes what is left at exit."""

    def __init__(self, stream=None) -> None:
        super().__init__(stream)
        threading.Thread(target=_flush_every, args=(weakref.ref(self),), name="access-log-flush",
                         daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """`line` as `emit` writes a record whose message it is (the access formatter is the bare message)."""
        with self.lock:
            self.stream.write(line + self.terminator)


def _flush_every(handler_ref: weakref.ref) -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        handler = handler_ref()
        if handler is None:
            return
        handler.flush()
        del handler


def uvicorn_log_config() -> dict:
    """uvicorn's own logging set-up plus `crm.access` as bare JSON lines on stdout. Pass it with
    `access_log=False`: this line replaces uvicorn's, which knows no tenant, key or database time."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["crm_access"] = {"format": BARE}
    config["handlers"]["crm_access"] = {"class": f"{__name__}.BatchedStreamHandler", "formatter": "crm_access",
                                        "stream": "ext://sys.stdout"}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["crm_access"], "level": "INFO", "propagate": False}
    return config
