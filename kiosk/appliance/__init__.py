"""The kiosk as an appliance: service-manager notifications, the watchdog gated on liveness,
opening hours, signed releases and their installation with rollback (issue 15)."""
