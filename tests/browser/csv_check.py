#!/usr/bin/env python3
"""csv_check.py -- checks that CSV exports open cleanly as a researcher opens
them: strict UTF-8, RFC 4180 (CRLF line ends, quoted cells), one header row
of unique non-empty names, every row as long as the header.  Reads each file
with Python's csv module, and with pandas too when it is installed (it is not
installed for this test).  Prints one JSON object {FILE: {"ok", "rows",
"header", "error", "pandas"}} and exits 1 when a file fails.

    python3 csv_check.py players.csv groups.csv ...
"""
import csv
import io
import json
import sys


def check(path):
    r = {"ok": False, "rows": 0, "header": [], "error": None, "pandas": "not installed"}
    try:
        raw = open(path, "rb").read()
        text = raw.decode("utf-8", errors="strict")
        if raw.startswith(b"\xef\xbb\xbf"):
            raise ValueError("starts with a byte order mark")
        if text and not text.endswith("\r\n"):
            raise ValueError("the last line does not end with CRLF")
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        if not rows:
            raise ValueError("no header row")
        header = rows[0]
        r["header"] = header
        if any(not h for h in header) or len(set(header)) != len(header):
            raise ValueError("header names must be unique and non-empty: %r" % header)
        for i, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise ValueError("row %d has %d cells, the header %d" % (i, len(row), len(header)))
        r["rows"] = len(rows) - 1
        r["cells"] = rows[1:]
        try:
            import pandas  # noqa: F401  (optional)
        except ImportError:
            pass
        else:
            df = pandas.read_csv(path, encoding="utf-8", keep_default_na=False, dtype=str)
            if list(df.columns) != header or len(df) != r["rows"]:
                raise ValueError("pandas reads %r x %d" % (list(df.columns), len(df)))
            r["pandas"] = "ok"
        r["ok"] = True
    except Exception as e:  # report, never crash
        r["error"] = "%s: %s" % (type(e).__name__, e)
    return r


def main():
    out = {p: check(p) for p in sys.argv[1:]}
    print(json.dumps(out, ensure_ascii=False))
    return 0 if out and all(v["ok"] for v in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
