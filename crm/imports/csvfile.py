"""Reading an uploaded CSV: decoding, header mapping to fields, and rows with their line numbers."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from crm.imports.report import RowError

# Excel exports (;) and TSV files are common beside plain commas; the sniffer picks among these only.
_DELIMITERS = ",;\t|"


class CsvFileError(Exception):
    """The file as a whole cannot be read (encoding, no header, required column missing)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors


def normalize_header(name: str) -> str:
    """'E-mail' -> 'e_mail', ' Company Name ' -> 'company_name': the form aliases are written in."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes); anything else is refused with the line it breaks on."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError([RowError(line, None, f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                                                  f"position {exc.start}); save it as 'CSV UTF-8' and retry")]) from exc


@dataclass
class ParsedFile:
    columns: dict[str, str]               # file header -> field
    ignored: list[str]                    # file headers that map to no field
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)   # (line in file, field -> raw cell)
    errors: list[RowError] = field(default_factory=list)                   # rows that cannot be split into cells

    def header_of(self, field_name: str) -> str:
        return next((h for h, f in self.columns.items() if f == field_name), field_name)


def map_headers(headers: list[str], aliases: dict[str, str], mapping: dict[str, str] | None,
                fields: set[str]) -> tuple[dict[str, str], list[str]]:
    """Explicit mapping first (header matched case-insensitively), then the entity's aliases."""
    explicit = {normalize_header(k): v for k, v in (mapping or {}).items()}
    errors, columns, ignored, taken = [], {}, [], {}
    for target in explicit.values():
        if target not in fields:
            errors.append(RowError(1, None, f"mapping target {target!r} is not a field; use one of "
                                            f"{', '.join(sorted(fields))}"))
    for header in headers:
        key = normalize_header(header)
        target = explicit.get(key) or aliases.get(key)
        if target is None or target not in fields:
            ignored.append(header)
            continue
        if target in taken:
            errors.append(RowError(1, header, f"columns {taken[target]!r} and {header!r} both map to {target!r}; "
                                              "drop one or pass an explicit mapping"))
            continue
        taken[target] = header
        columns[header] = target
    if errors:
        raise CsvFileError(errors)
    return columns, ignored


def parse(data: bytes, aliases: dict[str, str], mapping: dict[str, str] | None, fields: set[str],
          required_any: list[tuple[str, ...]]) -> ParsedFile:
    text = decode(data)
    if not text.strip():
        raise CsvFileError([RowError(1, None, "the file is empty: expected a header line and rows")])
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CsvFileError([RowError(line, None, "the file holds NUL bytes: it is not a text CSV")])
    try:
        dialect = csv.Sniffer().sniff(text[:8192].split("\n", 1)[0], delimiters=_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    try:
        headers = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CsvFileError([RowError(1, None, f"the header line cannot be read: {exc}")]) from exc
    columns, ignored = map_headers(headers, aliases, mapping, fields)
    parsed = ParsedFile(columns=columns, ignored=ignored)
    missing = [group for group in required_any if not set(group) & set(columns.values())]
    if missing:
        raise CsvFileError([RowError(1, None, "no column for " + " or ".join(group) + "; found columns "
                                     + ", ".join(repr(h) for h in headers)) for group in missing])
    index = {i: columns[h] for i, h in enumerate(headers) if h in columns and columns.get(h)}
    line = 1
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines are not rows
            if len(cells) > len(headers):
                parsed.errors.append(RowError(start, None, f"{len(cells)} cells but the header has "
                                                           f"{len(headers)} columns (an unquoted delimiter?)"))
                continue
            parsed.rows.append((start, {index[i]: c for i, c in enumerate(cells) if i in index}))
    except csv.Error as exc:
        raise CsvFileError([RowError(line + 1, None, f"the CSV is malformed: {exc}")]) from exc
    return parsed
