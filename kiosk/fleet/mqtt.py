"""One MQTT connection that stays up: paho-mqtt 2.x on its own network thread, reconnecting
with exponential backoff and jitter; callbacks hand work on and never block it.

The thread drives paho's socket itself (``loop_read``/``loop_write``/``loop_misc`` on an
epoll selector), and every use of the socket, the thread's and a publish from any other
thread, holds one lock: a publish is written at once by its caller, and never at the same
time as the network thread reads or writes (paho's own ``loop()``, driven from a thread paho
does not know, wrote publishes on the caller's thread unguarded: over TLS that corrupted the
stream, mosquitto answering "disconnected due to out of memory"). No descriptor limit
applies (``select()`` takes none above 1024), so a process may hold many links.

Only standard MQTT 3.1.1 is used (retained messages, QoS 1, last will, clean sessions), so
any broker serves: Mosquitto, or a cluster (EMQX, VerneMQ, HiveMQ).
"""

from __future__ import annotations

import logging
import random
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.config.schema import FleetConfig
from kiosk.fleet.canonical import NotCanonical, strict_loads
from kiosk.fleet.errors import OperatorError

log = logging.getLogger("kiosk.fleet")
STOP_S = 2.0  # how long a stopping link tries to send what is queued and its DISCONNECT
IDLE_S = 1.0  # the network thread wakes at least this often (keepalive, timeouts)


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and how to log in to it."""

    host: str
    port: int
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0

    def __repr__(self) -> str:  # never the password
        return f"BrokerSettings({'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port})"

    @classmethod
    def from_url(cls, url: str, *, credentials_file: str | None = None,
                 ca_file: str | None = None) -> BrokerSettings:
        """``mqtt[s]://[user[:password]@]host[:port]`` (the operator tools' form)."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise OperatorError("--broker", "the port is out of range") from None
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise OperatorError("--broker", "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        tls = parts.scheme == "mqtts"
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if credentials_file:
            username, password = read_credentials(credentials_file)
        return cls(parts.hostname, port or (8883 if tls else 1883), tls, ca_file,
                   username=username, password=password)

    @classmethod
    def for_kiosk(cls, fleet: FleetConfig, kiosk_id: str) -> BrokerSettings:
        """The kiosk's own account: ``fleet.credentials_file`` or, on an anonymous
        development broker, just its id as user name."""
        username, password = (read_credentials(fleet.credentials_file)
                              if fleet.credentials_file else (kiosk_id, None))
        return cls(fleet.broker_host, fleet.broker_port, fleet.tls, fleet.ca_file,
                   fleet.cert_file, fleet.key_file, username, password, fleet.keepalive_s,
                   fleet.reconnect_min_s, fleet.reconnect_max_s)


def read_credentials(path: str) -> tuple[str, str | None]:
    """``{"username": ..., "password": ...}`` from ``path`` (as ``kiosk ops acl`` writes)."""
    try:
        data = strict_loads(Path(path).read_bytes(), 4096)
    except OSError as exc:
        raise OperatorError(path, f"cannot read the broker credentials ({exc.strerror})") \
            from None
    except NotCanonical as exc:
        raise OperatorError(path, f"not a credentials file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("username"), str):
        raise OperatorError(f"{path}: username", "missing")
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise OperatorError(f"{path}: password", "must be text")
    return data["username"], password


def backoff(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: a random delay in the upper half of
    ``min(high, low * 2**attempt)``, so a fleet does not reconnect in lock step."""
    ceiling = min(high, low * (2 ** min(attempt, 30)))
    return rng.uniform(ceiling / 2, ceiling)


MessageHandler = Callable[[str, bytes, bool], None]


class MqttLink:
    """A paho client with its own network thread and reconnect policy."""

    def __init__(self, settings: BrokerSettings, client_id: str, *,
                 on_message: MessageHandler,
                 on_connect: Callable[[], None] | None = None,
                 on_disconnect: Callable[[str], None] | None = None,
                 will: tuple[str, bytes, int, bool] | None = None,
                 subscriptions: Sequence[tuple[str, int]] = ()) -> None:
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._stop = threading.Event()
        self._rng = random.Random()
        self._attempt = 0
        self._thread: threading.Thread | None = None
        self._sub_mid: int | None = None
        self._io = threading.RLock()  # held by whoever touches the socket
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.client_id = client_id
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=True, protocol=mqtt.MQTTv311)
        if settings.username is not None:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls:
            c.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file,
                      keyfile=settings.key_file, cert_reqs=ssl.CERT_REQUIRED,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will is not None:
            c.will_set(will[0], will[1], qos=will[2], retain=will[3])
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_message = self._message
        c.on_subscribe = self._suback
        self.client = c

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (never blocks, also when the broker is down)."""
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive_s)
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.client_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (no last will) and end the network thread."""
        self._stop.set()
        try:
            with self._io:
                self.client.disconnect()
        except Exception:  # noqa: BLE001 - stopping must not fail
            log.debug("mqtt disconnect failed", exc_info=True)
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._wake_r.close()
            self._wake_w.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:  # full (it is awake anyway) or closed
            pass

    def _run(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            try:
                with self._io:
                    self.client.reconnect()
            except (OSError, ssl.SSLError) as exc:  # broker down, refused, TLS failure
                log.debug("mqtt connect to %s failed: %s", s, exc)
                self._wait_retry()
                continue
            try:
                self._serve()
            except (OSError, ValueError) as exc:  # the socket went away under the selector
                log.debug("mqtt connection to %s ended: %s", s, exc)
            self.connected.clear()
            self.subscribed.clear()
            if not self._stop.is_set():
                self._wait_retry()

    def _serve(self) -> None:
        """Read, write and keep alive until the connection ends (or the link stops)."""
        sock = self.client.socket()
        if sock is None:
            return
        pending = getattr(sock, "pending", None)  # TLS: bytes decrypted, not seen by epoll
        stop_by: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            writing = False
            while True:
                with self._io:
                    if self.client.socket() is not sock:
                        return  # closed: DISCONNECT sent, or the connection lost
                    want = self.client.want_write()
                    buffered = bool(pending and pending())
                if want != writing:
                    sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want
                                                             else 0))
                    writing = want
                timeout = 0.0 if buffered else 0.1 if stop_by else IDLE_S
                ready = {key.fileobj: mask for key, mask in sel.select(timeout)}
                if self._wake_r in ready:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                with self._io:
                    if self.client.socket() is not sock:
                        return
                    rc = mqtt.MQTT_ERR_SUCCESS
                    if buffered or ready.get(sock, 0) & selectors.EVENT_READ:
                        rc = self.client.loop_read()
                    if rc == mqtt.MQTT_ERR_SUCCESS and self.client.want_write():
                        rc = self.client.loop_write()
                    if rc == mqtt.MQTT_ERR_SUCCESS:
                        rc = self.client.loop_misc()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    return
                if self._stop.is_set():
                    stop_by = stop_by or time.monotonic() + STOP_S
                    if time.monotonic() >= stop_by:
                        return

    def _wait_retry(self) -> None:
        s = self.settings
        delay = backoff(self._attempt, s.reconnect_min_s, s.reconnect_max_s, self._rng)
        self._attempt += 1
        self._stop.wait(delay)

    # -- paho callbacks (network thread: hand work on, never block) ---------------------
    def _connected(self, client: mqtt.Client, _u: object, _f: object,
                   reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.settings, reason)
            return
        self._attempt = 0
        self.connected.set()
        if self.subscriptions:  # subscribe first: retained documents follow the SUBACK
            _rc, self._sub_mid = client.subscribe(self.subscriptions)
        else:
            self.subscribed.set()
        if self._on_connect is not None:
            self._on_connect()

    def _suback(self, _c: object, _u: object, mid: int, codes: list[ReasonCode],
                _p: object) -> None:
        if mid == self._sub_mid:
            refused = [str(c) for c in codes if c.is_failure]
            if refused:
                log.error("broker refused subscriptions: %s", refused)
            self.subscribed.set()

    def _disconnected(self, _c: object, _u: object, _f: object, reason: ReasonCode,
                      _p: object) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self._on_disconnect is not None:
            self._on_disconnect(str(reason))

    def _message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._on_message(msg.topic, bytes(msg.payload), bool(msg.retain))

    # -- use ----------------------------------------------------------------------------
    def subscribe(self, topics: Sequence[tuple[str, int]]) -> None:
        self.subscriptions.extend(topics)
        if self.connected.is_set():
            with self._io:
                self.client.subscribe(list(topics))
            self._wake()

    def unsubscribe(self, topic: str) -> None:
        self.subscriptions = [(t, q) for t, q in self.subscriptions if t != topic]
        if self.connected.is_set():
            with self._io:
                self.client.unsubscribe(topic)
            self._wake()

    def publish(self, topic: str, payload: bytes, qos: int = 1,
                retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """Send a message (what the socket does not take now, the network thread sends);
        None when not connected (the caller republishes on connect)."""
        if not self.connected.is_set():
            return None
        with self._io:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            rest = self.client.want_write()
        if rest:
            self._wake()
        return info if info.rc == mqtt.MQTT_ERR_SUCCESS else None
