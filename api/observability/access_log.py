"""The access log: one JSON object per request on the logger `crm.access` (written by the request
middleware), and the logging set-up `crm serve` hands uvicorn so those lines reach stdout."""

from __future__ import annotations

import copy
import json
import logging

ACCESS_LOGGER = "crm.access"
log = logging.getLogger(ACCESS_LOGGER)
_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps(separators=) builds one per call


def write(fields: dict) -> None:
    """One line; the fields also ride on the record (`record.access`) for handlers that want them whole."""
    log.info(_encode(fields), extra={"access": fields})


def uvicorn_log_config() -> dict:
    """uvicorn's own logging set-up plus `crm.access` as bare JSON lines on stdout. Pass it with
    `access_log=False`: this line replaces uvicorn's, which knows no tenant, key or database time."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["crm_access"] = {"format": "%(message)s"}
    config["handlers"]["crm_access"] = {"class": "logging.StreamHandler", "formatter": "crm_access",
                                        "stream": "ext://sys.stdout"}
    config["loggers"][ACCESS_LOGGER] = {"handlers": ["crm_access"], "level": "INFO", "propagate": False}
    return config
