"""The small HTTP server every Noroshi process beside the board serves: GET /healthz (alive),
/readyz (200 when ready, else 503 with the failing checks in Japanese and English) and /metrics
(Prometheus text), plus any routes of its own. One place, so that each process answers the same."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
import structlog
from aiohttp import web

from vocabulary.health import Readiness
from vocabulary.metrics import exposition

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], object]


def health_app(process: str, readiness: Callable[[], Readiness],
               routes: Mapping[str, Handler] | None = None) -> web.Application:
    """/healthz, /readyz and /metrics for `process`, and the extra GET `routes` (path → handler)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"alive": True, "process": process})

    async def readyz(request: web.Request) -> web.Response:
        ready = readiness()
        return web.Response(body=orjson.dumps({"process": process, **ready.to_dict()}),
                            status=200 if ready.ready else 503, content_type="application/json")

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    for path, handler in (routes or {}).items():
        app.router.add_get(path, handler)  # type: ignore[arg-type]
    return app


async def serve(app: web.Application, host: str, port: int, *, process: str,
                port_setting: str) -> web.AppRunner | None:
    """Start serving `app`; None when the port cannot be bound. The process goes on without it (the
    missing endpoint is what the watchdog sees), and the error says which setting to check."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        log.error(f"{process}_http_not_started", host=host, port=port, error=str(exc),
                  message=f"{host}:{port} で /healthz /readyz /metrics を開始できません（{port_setting} を"
                          f"確認してください） / cannot serve them on {host}:{port}: check {port_setting}")
        return None
    log.info(f"{process}_http_started", host=host, port=port, paths=sorted(
        {r.resource.canonical for r in app.router.routes() if r.resource is not None}))
    return runner
