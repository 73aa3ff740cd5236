"""Logging: levels in any case, one handler per record, and no secret in any line at any level."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxmcp import logs
from voxmcp.logs import LogLevelError, RedactingFilter, parse_level, redact, redact_value

LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]


@pytest.mark.parametrize(
    ("text", "level"),
    [("debug", 10), ("DEBUG", 10), (" Info ", 20), ("warn", 30), ("Warning", 30), ("error", 40), ("10", 10)],
)
def test_levels_in_any_case(text: str, level: int) -> None:
    assert parse_level(text) == level


def test_unset_level_is_warning_and_an_unknown_one_is_one_sentence() -> None:
    assert parse_level(None) == parse_level("") == logging.WARNING
    with pytest.raises(LogLevelError) as info:
        parse_level("verbose")
    assert str(info.value) == (
        "VOXMCP_LOG_LEVEL='verbose' is not a log level; use one of debug, info, warning, error, critical."
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            'HTTP Request: POST http://127.0.0.1:8000/mcp?api_key=S3CRET&x=1 "HTTP/1.1 200 OK"',
            'HTTP Request: POST http://127.0.0.1:8000/mcp?api_key=***&x=1 "HTTP/1.1 200 OK"',
        ),
        ("GET https://h/p?apikey=S3CRET", "GET https://h/p?apikey=***"),
        ("GET https://h/p?key=S3CRET&sig=S3CRET2#top", "GET https://h/p?key=***&sig=***#top"),
        ("https://h/cb?code=S3CRET&state=abc", "https://h/cb?code=***&state=abc"),
        (
            "https://h/x?X-Amz-Signature=S3CRET&X-Amz-Credential=S3CRET",
            "https://h/x?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("connecting to https://alice:S3CRET@example.com/mcp", "connecting to https://***@example.com/mcp"),
        ("git clone https://ghp_S3CRET@github.com/a/b", "git clone https://***@github.com/a/b"),
        ("Authorization: Bearer S3CRET.token-123", "Authorization: Bearer ***"),
        ("proxy-authorization=Basic dXNlcjpwYXNz", "proxy-authorization=Basic ***"),
        ("sent Bearer abcDEF123456789 to the server", "sent Bearer *** to the server"),
        ("{'authorization': 'Bearer S3CRET', 'accept': '*/*'}", "{'authorization': '***', 'accept': '*/*'}"),
        (
            '[(b"Host", b"h"), (b"Authorization", b"Basic dXNlcjpwYXNz")]',
            '[(b"Host", b"h"), (b"Authorization", b"***")]',
        ),
        (
            '{"access_token": "S3CRET", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "S3CRET2"}',
            '{"access_token": "***", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "***"}',
        ),
        ("client_secret=S3CRET password=hunter2 max_tokens=160", "client_secret=*** password=*** max_tokens=160"),
        ("Cookie: session=S3CRET; theme=dark", "Cookie: ***"),
        ("x-api-key: S3CRET", "x-api-key: ***"),
        (
            "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "id *** end",
        ),
    ],
)
def test_redact_by_shape(raw: str, clean: str) -> None:
    assert redact(raw) == clean
    assert redact(clean) == clean  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "The time server at http://127.0.0.1:8931/mcp refused access (401); log in with: voxmcp mcp login time.",
        "Basic authentication failed; the token expired",
        'tracking code AB1234 for the note "Maria about the invoice"',
        "error_code=5 max_tokens=160 timeout=30",
        "tool get_weather(city='Paris') took 0.21 s",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_values_by_name() -> None:
    value = {
        "headers": {"Authorization": "Bearer S3CRET", "Accept": "*/*", "X-Api-Key": "S3CRET"},
        "url": "http://u:S3CRET@h/x?token=S3CRET",
        "pairs": [(b"cookie", b"S3CRET"), ("accept", "x")],
        "client_secret": "S3CRET",
        "count": 3,
    }
    assert redact_value(value) == {
        "headers": {"Authorization": "***", "Accept": "*/*", "X-Api-Key": "***"},
        "url": "http://***@h/x?token=***",
        "pairs": [("cookie", "***"), ("accept", "x")],
        "client_secret": "***",
        "count": 3,
    }


def test_secret_environment_values_are_masked_wherever_they_appear() -> None:
    logs.add_environment_secrets({"MY_SERVICE_API_KEY": "plain-looking-value-42", "TOKENIZERS_PARALLELISM": "false"})
    assert redact("sent plain-looking-value-42 in the body") == "sent *** in the body"
    assert redact("false") == "false"  # TOKENIZERS_* is no secret, and short values are never masked


@pytest.mark.parametrize("unit", ["://", "a=", "?token=", "'token': '", "Authorization: ", "eyJ", "Bearer a"])
def test_redaction_is_linear_on_hostile_text(unit: str) -> None:
    """Text built to make a backtracking pattern explode (up to the length that is logged at all) finishes, and
    four times the text takes about four times as long."""
    timings = []
    for size in (logs.MAX_LOGGED_CHARS // 4, logs.MAX_LOGGED_CHARS - 10):
        text = unit * (size // len(unit))
        began = time.perf_counter()
        redact(text)
        timings.append(time.perf_counter() - began)
    assert timings[1] < 10  # a quadratic pattern takes minutes here
    assert timings[1] < 12 * timings[0] + 0.2


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler with the filter on a private logger tree, as setup_logging puts it on the root."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s %(headers)s"))
    handler.addFilter(RedactingFilter())
    top = logging.getLogger("redaction-test")
    top.addHandler(handler)
    top.propagate = False
    top.setLevel(logging.DEBUG)
    yield stream, handler
    top.removeHandler(handler)
    top.propagate = True


@pytest.mark.parametrize("level", LEVELS)
def test_filter_scrubs_message_args_extra_and_traceback_at_every_level(
    captured: tuple[io.StringIO, logging.Handler], level: int
) -> None:
    stream, _ = captured
    log = logging.getLogger("redaction-test.httpx")
    log.log(
        level,
        'HTTP Request: %s %s "%s %d %s"',
        "POST",
        "http://127.0.0.1:1/mcp?api_key=S3CRET1",
        "HTTP/1.1",
        200,
        "OK",
        extra={"headers": {"authorization": "Bearer S3CRET2"}, "target": "https://bob:S3CRET3@h/x"},
    )
    try:
        raise ConnectionError("cannot reach https://h/x?access_token=S3CRET4")
    except ConnectionError:
        log.log(level, "connect failed for %s", "https://carol:S3CRET5@h/", exc_info=True, extra={"headers": {}})
    out = stream.getvalue()
    assert "S3CRET" not in out
    assert 'HTTP Request: POST http://127.0.0.1:1/mcp?api_key=*** "HTTP/1.1 200 OK"' in out
    assert "{'authorization': '***'}" in out
    assert "connect failed for https://***@h/" in out
    assert "ConnectionError: cannot reach https://h/x?access_token=***" in out


def test_clean_records_keep_their_args(captured: tuple[io.StringIO, logging.Handler]) -> None:
    """Formatters such as uvicorn's access log unpack `record.args`; only a record with a secret loses them."""
    _, handler = captured
    seen: list[object] = []
    handler.addFilter(lambda record: seen.append(record.args) or True)
    log = logging.getLogger("redaction-test.access")
    log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/mcp?x=1", "1.1", 200, extra={"headers": {}})
    log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/mcp?token=S3CRET", "1.1", 200, extra={"headers": {}})
    assert seen == [
        ("127.0.0.1:5", "GET", "/mcp?x=1", "1.1", 200),
        ("127.0.0.1:5", "GET", "/mcp?token=***", "1.1", 200),
    ]


_CHILD = textwrap.dedent(
    """
    import http.server, logging, sys, threading
    import httpx, httpx2
    from voxmcp.logs import setup_logging

    setup_logging(sys.argv[1])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    httpx.get(f"http://127.0.0.1:{port}/mcp?api_key=S3CRET1", timeout=10)
    httpx2.get(
        f"http://alice:S3CRET2@127.0.0.1:{port}/mcp?token=S3CRET3",
        headers={"Authorization": "Bearer S3CRET4"},
        timeout=10,
    )
    # a handler added later by a library (LiveKit's console does this): redacted, and only one line per record
    late = logging.StreamHandler(sys.stderr)
    late.setFormatter(logging.Formatter("LATE %(name)s: %(message)s %(headers)s"))
    logging.getLogger().addHandler(late)
    logging.getLogger("mcp.client").warning(
        "retrying https://bob:S3CRET5@h/", extra={"headers": {"X-Api-Key": "S3CRET6"}}
    )
    server.shutdown()
    """
)


@pytest.mark.parametrize("level", ["debug", "INFO"])
def test_real_http_clients_log_no_secret(level: str) -> None:
    """httpx and httpx2 against a loopback server, through setup_logging as every entry point uses it."""
    done = subprocess.run([sys.executable, "-c", _CHILD, level], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "S3CRET" not in err
    assert "HTTP Request: GET http://127.0.0.1:" in err and "/mcp?api_key=*** " in err
    assert "/mcp?token=*** " in err and "http://***@127.0.0.1:" in err
    assert err.count("retrying https://***@h/") == 1  # one handler per record
    assert "LATE mcp.client: retrying https://***@h/ {'X-Api-Key': '***'}" in err


_WITH_LIVEKIT = textwrap.dedent(
    """
    import logging, sys
    from voxmcp.logs import setup_logging

    setup_logging("INFO")
    if sys.argv[1] == "json":
        from livekit.agents.cli._legacy import _configure_logger

        _configure_logger(None, "INFO")  # `voxmcp start`: JSON lines on stdout
    else:
        from livekit.agents.cli.log import setup_logging as livekit_setup

        livekit_setup("INFO", devmode=True, console=False)  # `voxmcp dev`: coloured lines on stdout
    logging.getLogger("voxmcp.app").warning("one line for https://bob:S3CRET1@h/", extra={"api_key": "S3CRET2"})
    # a record forwarded from a LiveKit job process is rebuilt without this process's record factory
    forwarded = logging.makeLogRecord(
        {"name": "voxmcp.job", "levelno": 30, "levelname": "WARNING", "msg": "job asked h/?api_key=S3CRET3",
         "headers": {"Authorization": "Bearer S3CRET4"}}
    )
    logging.getLogger("voxmcp.job").handle(forwarded)
    """
)


@pytest.mark.parametrize("livekit_format", ["json", "coloured"])
def test_livekit_handler_prints_each_record_once_and_redacted(livekit_format: str) -> None:
    """LiveKit's verbs add their own root handler after ours: each record is printed once, by theirs, scrubbed."""
    done = subprocess.run(
        [sys.executable, "-c", _WITH_LIVEKIT, livekit_format], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    both = done.stdout + done.stderr
    assert both.count("one line for https://***@h/") == 1
    assert both.count("job asked h/?api_key=***") == 1
    assert "S3CRET" not in both
    assert done.stderr.count("WARNING voxmcp") == 0  # ours stepped aside; LiveKit's prints to stdout


def test_a_huge_message_is_cut_and_a_secret_cut_in_two_is_not_shown_in_part() -> None:
    secret_url = "https://bob:S3CRETPASSWORD@h/x?api_key=S3CRET"
    text = "x " * ((logs.MAX_LOGGED_CHARS - 20) // 2) + secret_url + " tail" * 50_000
    clean = redact(text)
    assert len(clean) < logs.MAX_LOGGED_CHARS + 100
    assert clean.endswith("more characters not logged)")
    assert "S3CRET" not in clean and "bob" not in clean


def test_setup_twice_and_a_null_handler_still_print_each_record_once() -> None:
    script = textwrap.dedent(
        """
        import logging
        from voxmcp.logs import setup_logging

        setup_logging("warning")
        setup_logging("WARNING")
        logging.getLogger().addHandler(logging.NullHandler())
        logging.getLogger("voxmcp.x").warning("once")
        logging.getLogger("voxmcp.x").info("not at warning")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["WARNING voxmcp.x: once"]


_TERMINAL_AND_FILE = textwrap.dedent(
    """
    import logging, sys
    from voxmcp.logs import setup_logging

    root_level = setup_logging("warning", log_file=sys.argv[1], file_level="debug", extra_limit=40)
    print("root", root_level)
    # LiveKit's CLI: its own terminal handler, and the root at the level it was given (the lower one)
    from livekit.agents.cli.log import setup_logging as livekit_setup

    livekit_setup("DEBUG", devmode=True, console=False)
    log = logging.getLogger("voxmcp.app")
    log.debug("a debug line with https://bob:S3CRET1@h/")
    log.info("an info line")
    log.warning("a warning", extra={"stack": "x" * 500})
    """
)


def test_terminal_level_and_log_file_with_livekit_handler(tmp_path: Path) -> None:
    """The terminal (LiveKit's handler) shows warnings only, each once, long fields cut; the file gets all of it."""
    log_file = tmp_path / "voxmcp.log"
    done = subprocess.run(
        [sys.executable, "-c", _TERMINAL_AND_FILE, str(log_file)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "root 10"
    terminal = done.stdout + done.stderr
    assert "a debug line" not in terminal and "an info line" not in terminal
    assert terminal.count("a warning") == 1
    assert "x" * 40 + "... (460 more characters)" in terminal and "x" * 41 not in terminal
    logged = log_file.read_text()
    assert "DEBUG voxmcp.app: a debug line with https://***@h/" in logged
    assert "INFO voxmcp.app: an info line" in logged
    assert logged.count("a warning") == 1 and "x" * 500 in logged
    assert "S3CRET" not in logged


def test_an_unwritable_log_file_is_one_sentence(tmp_path: Path) -> None:
    """Refused before anything changes (this runs in the test process: the root logger must stay as it is)."""
    before = list(logging.getLogger().handlers)
    with pytest.raises(logs.LogFileError) as info:
        logs.setup_logging("warning", log_file=tmp_path / "missing" / "x.log")
    assert str(info.value) == f"cannot write the log file {tmp_path / 'missing' / 'x.log'}: No such file or directory."
    assert logging.getLogger().handlers == before
