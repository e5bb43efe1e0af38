"""The kiosk as an appliance: service-manager notifications, the watchdog gated on liveness,
opening hours with the closed screen's facts and the display's dimming (``opening``,
``dimming``), the hold for a restart at an idle moment (``hold``), signed releases and their
installation with rollback (issue 15)."""
