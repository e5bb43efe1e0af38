"""The display's backlight: a role (:class:`~hardware.display.backlight.Backlight`), the Linux
sysfs driver (``/sys/class/backlight/<name>/brightness``, written on a worker thread) and a
simulator that lays out a temp dir the way sysfs does. A machine without a backlight (an HDMI
monitor, Xvfb) gets :class:`~hardware.display.backlight.NoBacklight`: status ``unsupported``,
nothing to dim, no error."""
