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
_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps(separators=) builds one per call


def write(fields: dict) -> None:
    """One line; the fields also ride on the record (`record.access`) for handlers that want them whole."""
    log.info(_encode(fields), extra={"access": fields})


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
    config["formatters"]["crm_access"] = {"format": "%(message)s"}
    config["handlers"]["crm_access"] = {"class": f"{__name__}.BatchedStreamHandler", "formatter": "crm_access",
                                        "stream": "ext://sys.stdout"}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["crm_access"], "level": "INFO", "propagate": False}
    return config
