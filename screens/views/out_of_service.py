"""Out of service: the kiosk cannot serve now. Says so in all three languages, where to go
instead (``service.alternative``: the hall's address, hours, the 12345 hotline) and the
kiosk's number for a report; offers no way into a journey. Shown by the app while the service
gate says out of service, and left by itself when it no longer does."""

from __future__ import annotations

from kivy.properties import StringProperty

from screens.views.base import KioskScreen

TITLES = ("暂停服务", "暫停服務", "Out of service")


class OutOfServiceScreen(KioskScreen):
    """What a citizen sees at a kiosk that is out of service (nothing to touch)."""

    alternative = StringProperty("")
    kiosk_id = StringProperty("")
    all_titles = StringProperty(" · ".join(TITLES))
    voice_key = "oos_voice"

    def refresh(self) -> None:
        cfg = self.vm.core.cfg
        alt = cfg.service.alternative
        self.alternative = getattr(alt, self.vm.lang, None) or alt.zh_CN
        self.kiosk_id = cfg.kiosk.id
