"""The shared peers start for real and do their job."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.harness.peers import Mosquitto


def test_mosquitto_keeps_retained_messages(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path).start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        info = pub.publish("kiosk/k1/config/desired", b"v1", qos=1, retain=True)
        info.wait_for_publish(5)
        got = threading.Event()
        payloads: list[bytes] = []
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub")

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            payloads.append(msg.payload)
            got.set()

        sub.on_message = on_message
        sub.on_connect = lambda c, *_: c.subscribe("kiosk/k1/config/desired", qos=1)
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        assert got.wait(5)
        assert payloads == [b"v1"]
        for c in (pub, sub):
            c.loop_stop()
            c.disconnect()
    finally:
        broker.stop()
