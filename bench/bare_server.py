"""The baseline: the least an aiohttp server can do to serve the same credentials.

One route, the same bytes stsd served, the same token check (`hmac.compare_digest`),
the same response headers; no Host or header checks, no broker, no logging. The
endpoint benchmark reports stsd's throughput as a fraction of this server's.

    python -m bench.bare_server --body-file F --token-file F [--port 0]

prints `listening 127.0.0.1:PORT` once it accepts connections.
"""

import argparse
import asyncio
import hmac
import signal
from pathlib import Path

from aiohttp import web

__all__ = ["make_app", "main"]

_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def make_app(body: bytes, token: str) -> web.Application:
    expected = token.encode()

    async def credentials(request: web.Request) -> web.Response:
        presented = request.headers.get("Authorization", "")
        if not hmac.compare_digest(presented.encode(), expected):
            return web.Response(status=403, body=b'{"code":"InvalidToken"}', headers=_HEADERS)
        return web.Response(body=body, headers=_HEADERS)

    app = web.Application()
    app.router.add_get("/credentials/{profile}", credentials, allow_head=False)
    return app


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    address = next(a for a in runner.addresses if isinstance(a, tuple))
    print(f"listening 127.0.0.1:{address[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = make_app(args.body_file.read_bytes(), args.token_file.read_text(encoding="ascii"))
    asyncio.run(_serve(app, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
