"""Fleet operations over MQTT: signed config bundles, the device-twin agent, remote commands,
the broker ACL and the operator tools (``kiosk ops``). See ``kiosk/fleet/README.md``."""
