"""Serve one embedded MonetDB (monetdbe) connection over stdin and stdout.

The test suite runs on Python 3.11, but monetdbe 0.11 has wheels only up to
Python 3.10. This script runs under a Python that has monetdbe and executes
the statements it reads, one JSON object per line:

    {"op": "execute", "sql": "...", "params": {...} or null}
    {"op": "commit"} / {"op": "rollback"} / {"op": "close"}

and replies to each with one JSON line: ``{"rows": [...], "columns": [...]}``
(``columns`` is null for statements without a result) or ``{"error": "..."}``.
Datetimes travel as ``{"$datetime": "<ISO 8601>"}``. Only the standard
library and monetdbe are imported, so the script runs without fedprov.
"""

import datetime
import json
import sys

import monetdbe


def decode(value):
    if isinstance(value, dict) and "$datetime" in value:
        return datetime.datetime.fromisoformat(value["$datetime"])
    return value


def encode(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return {"$datetime": value.isoformat()}
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    # monetdbe fetches a NULL DOUBLE as NaN. MonetDB stores no NaN (the client
    # sends NaN as NULL), so NaN here always means NULL, as pymonetdb returns.
    if isinstance(value, float) and value != value:
        return None
    return value


def main():
    connection = monetdbe.connect(":memory:", autocommit=False)
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "execute":
                cursor = connection.cursor()
                params = request.get("params")
                if params is None:
                    cursor.execute(request["sql"])
                else:
                    # A mapping makes monetdbe format %(name)s values into the
                    # text on the client, as pymonetdb does.
                    cursor.execute(
                        request["sql"], {k: decode(v) for k, v in params.items()}
                    )
                if cursor.description is None:
                    reply = {"rows": [], "columns": None}
                else:
                    rows = [[encode(v) for v in row] for row in cursor.fetchall()]
                    reply = {
                        "rows": rows,
                        "columns": [d[0] for d in cursor.description],
                    }
            elif op == "commit":
                connection.commit()
                reply = {}
            elif op == "rollback":
                # After monetdbe 0.11's rollback(), every later fetchall() raises
                # "state inconsistent". The ROLLBACK statement avoids that.
                connection.execute("ROLLBACK")
                reply = {}
            elif op == "close":
                connection.close()
                sys.stdout.write("{}\n")
                sys.stdout.flush()
                return
            else:
                reply = {"error": "unknown op " + repr(op)}
        except Exception as err:  # every driver error goes back to the test
            reply = {"error": type(err).__name__ + ": " + str(err)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
