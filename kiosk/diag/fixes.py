"""Plain-words causes and fixes for technicians: IPP ``printer-state-reasons`` and device states.

One table a language per entry (zh_CN, zh_HK, en). A reason keyword may carry the IPP severity
suffix (``media-empty-error``); ``-report`` reasons are informational and give no fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from hardware.printer.status import PRIORITY, clean_reasons, split_reason

Lang = Literal["zh_CN", "zh_HK", "en"]
LANGS: tuple[Lang, ...] = ("zh_CN", "zh_HK", "en")

# the paper each layout takes, per language (``{paper}`` in the fixes)
PAPER: dict[str, dict[Lang, str]] = {
    "a4": {"zh_CN": "在纸盒 1 装入 A4 纸", "zh_HK": "在紙盒 1 放入 A4 紙",
           "en": "load A4 paper in tray 1"},
    "receipt80": {"zh_CN": "装入 80 毫米热敏纸卷", "zh_HK": "放入 80 毫米熱敏紙卷",
                  "en": "load an 80 mm thermal paper roll"},
    "receipt58": {"zh_CN": "装入 58 毫米热敏纸卷", "zh_HK": "放入 58 毫米熱敏紙卷",
                  "en": "load a 58 mm thermal paper roll"},
}

# base IPP keyword -> text per language
PRINTER_REASONS: dict[str, dict[Lang, str]] = {
    "media-empty": {"zh_CN": "缺纸 — {paper}", "zh_HK": "缺紙 — {paper}",
                    "en": "paper out — {paper}"},
    "media-needed": {"zh_CN": "缺纸 — {paper}", "zh_HK": "缺紙 — {paper}",
                     "en": "paper out — {paper}"},
    "media-low": {"zh_CN": "纸张不足 — 尽快{paper}", "zh_HK": "紙張不足 — 盡快{paper}",
                  "en": "paper low — soon {paper}"},
    "input-tray-missing": {"zh_CN": "纸盒未装好 — 把纸盒 1 推到底",
                           "zh_HK": "紙盒未裝好 — 把紙盒 1 推到底",
                           "en": "paper tray missing — push tray 1 fully in"},
    "media-jam": {"zh_CN": "卡纸 — 打开前盖取出卡住的纸，再关好前盖",
                  "zh_HK": "卡紙 — 打開前蓋取出卡住的紙，再關好前蓋",
                  "en": "paper jam — open the front cover, remove the jammed sheet, close it"},
    "cover-open": {"zh_CN": "机盖未关 — 关好打印机的盖子", "zh_HK": "機蓋未關 — 關好打印機的蓋子",
                   "en": "cover open — close the printer's cover"},
    "door-open": {"zh_CN": "机门未关 — 关好打印机的门", "zh_HK": "機門未關 — 關好打印機的門",
                  "en": "door open — close the printer's door"},
    "toner-empty": {"zh_CN": "墨粉用尽 — 更换墨粉盒", "zh_HK": "碳粉用盡 — 更換碳粉盒",
                    "en": "toner empty — replace the toner cartridge"},
    "toner-low": {"zh_CN": "墨粉不足 — 准备新的墨粉盒", "zh_HK": "碳粉不足 — 準備新的碳粉盒",
                  "en": "toner low — have a new toner cartridge ready"},
    "marker-supply-empty": {"zh_CN": "耗材用尽 — 更换墨粉盒或色带",
                            "zh_HK": "耗材用盡 — 更換碳粉盒或色帶",
                            "en": "supply empty — replace the toner cartridge or ribbon"},
    "marker-supply-low": {"zh_CN": "耗材不足 — 准备新的墨粉盒或色带",
                          "zh_HK": "耗材不足 — 準備新的碳粉盒或色帶",
                          "en": "supply low — have a new toner cartridge or ribbon ready"},
    "offline": {"zh_CN": "打印机离线 — 检查电源和数据线，再开机",
                "zh_HK": "打印機離線 — 檢查電源和數據線，再開機",
                "en": "printer offline — check its power and cable, switch it on"},
    "shutdown": {"zh_CN": "打印机已关机 — 打开电源", "zh_HK": "打印機已關機 — 打開電源",
                 "en": "printer switched off — switch it on"},
    "paused": {"zh_CN": "打印队列已暂停 — 运行 cupsenable 恢复队列",
               "zh_HK": "打印隊列已暫停 — 執行 cupsenable 恢復隊列",
               "en": "print queue paused — resume it (cupsenable)"},
    "stopped": {"zh_CN": "打印队列已停止 — 运行 cupsenable 恢复队列",
                "zh_HK": "打印隊列已停止 — 執行 cupsenable 恢復隊列",
                "en": "print queue stopped — resume it (cupsenable)"},
    "moving-to-paused": {"zh_CN": "打印队列正在暂停 — 运行 cupsenable 恢复队列",
                         "zh_HK": "打印隊列正在暫停 — 執行 cupsenable 恢復隊列",
                         "en": "print queue pausing — resume it (cupsenable)"},
    "connecting-to-device": {"zh_CN": "连不上打印机 — 检查网线或 USB 线",
                             "zh_HK": "連不上打印機 — 檢查網線或 USB 線",
                             "en": "cannot reach the printer — check its network or USB cable"},
    "cups-waiting-for-job-completed": {
        "zh_CN": "打印机仍在完成上一份文件 — 稍候；长时间不变请重启打印机",
        "zh_HK": "打印機仍在完成上一份文件 — 稍候；長時間不變請重啟打印機",
        "en": "printer still finishing the last job — wait; if it stays, restart the printer"},
    "cups-missing-filter": {"zh_CN": "打印驱动缺失 — 重新安装打印机驱动",
                            "zh_HK": "打印驅動缺失 — 重新安裝打印機驅動",
                            "en": "printer driver missing — reinstall the printer driver"},
    "cups-insecure-filter": {"zh_CN": "打印驱动权限错误 — 重新安装打印机驱动",
                             "zh_HK": "打印驅動權限錯誤 — 重新安裝打印機驅動",
                             "en": "printer driver refused (permissions) — reinstall it"},
    "cups-unreachable": {"zh_CN": "打印服务未运行 — 重启 CUPS 服务",
                         "zh_HK": "打印服務未運行 — 重啟 CUPS 服務",
                         "en": "print service not running — restart CUPS"},
    "queue-missing": {"zh_CN": "打印队列不存在 — 按配置添加打印队列",
                      "zh_HK": "打印隊列不存在 — 按配置添加打印隊列",
                      "en": "print queue missing — add the configured queue"},
}
_ORDER = {base: i for i, base in enumerate((*PRIORITY, "cups-unreachable", "queue-missing"))}
_UNKNOWN: dict[Lang, str] = {"zh_CN": "打印机报告：{reason}", "zh_HK": "打印機報告：{reason}",
                             "en": "printer reports: {reason}"}

# device status -> what to check, per language (``{device}`` is the device's plain name)
DEVICE_NAMES: dict[str, dict[Lang, str]] = {
    "idcard": {"zh_CN": "身份证阅读器", "zh_HK": "身份證閱讀器", "en": "ID-card reader"},
    "qr": {"zh_CN": "扫码器", "zh_HK": "掃碼器", "en": "QR scanner"},
    "camera": {"zh_CN": "摄像头", "zh_HK": "攝像頭", "en": "camera"},
    "printer": {"zh_CN": "打印机", "zh_HK": "打印機", "en": "printer"},
}
STATUS_TEXT: dict[str, dict[Lang, str]] = {
    "no_device": {"zh_CN": "{device}未找到 — 检查 USB 线和电源",
                  "zh_HK": "{device}未找到 — 檢查 USB 線和電源",
                  "en": "{device} not found — check its USB cable and power"},
    "offline": {"zh_CN": "{device}离线 — 检查连接线，重新插拔",
                "zh_HK": "{device}離線 — 檢查連接線，重新插拔",
                "en": "{device} offline — check its cable, unplug and plug it in again"},
    "hardware_error": {"zh_CN": "{device}故障 — 按设备手册排查或更换",
                       "zh_HK": "{device}故障 — 按設備手冊排查或更換",
                       "en": "{device} hardware error — follow its manual or replace it"},
    "user_error": {"zh_CN": "{device}需要处理 — 见下方检查结果",
                   "zh_HK": "{device}需要處理 — 見下方檢查結果",
                   "en": "{device} needs attention — see its checks below"},
    "busy": {"zh_CN": "{device}忙", "zh_HK": "{device}忙", "en": "{device} busy"},
    "check_failed": {"zh_CN": "{device}检查未通过：{detail}",
                     "zh_HK": "{device}檢查未通過：{detail}",
                     "en": "{device} check failed: {detail}"},
    "test_print_failed": {
        "zh_CN": "{device}上次测试页未打印成功（{detail}）— 检查纸张和是否卡纸，再打印测试页",
        "zh_HK": "{device}上次測試頁未打印成功（{detail}）— 檢查紙張和是否卡紙，再打印測試頁",
        "en": "{device}: the last test page did not print ({detail}) — check the paper and "
              "for a jam, then print a test page again"},
}


def device_label(name: str, lang: Lang = "en") -> str:
    return DEVICE_NAMES.get(name, {}).get(lang) or name


def printer_fixes(reasons: Iterable[str] | str | None, *, paper: str = "a4",
                  lang: Lang = "en") -> list[str]:
    """One plain fix a reported condition, most urgent first (``-report`` reasons skipped)."""
    paper_text = PAPER.get(paper, PAPER["a4"])[lang]
    seen: dict[str, int] = {}
    for reason in clean_reasons(reasons):
        base, severity = split_reason(reason)
        if severity == "report" and base != "offline":
            continue
        seen.setdefault(base, _ORDER.get(base, len(_ORDER)))
    out = []
    for base in sorted(seen, key=lambda b: (seen[b], b)):
        rule = PRINTER_REASONS.get(base)
        if rule is None:
            if base == "other":
                continue
            out.append(_UNKNOWN[lang].format(reason=base))
        else:
            out.append(rule[lang].format(paper=paper_text))
    return out


def status_text(name: str, status: str, *, lang: Lang = "en", detail: str = "") -> str:
    """What a device's state means for the technician (``check_failed`` with ``detail``)."""
    rule = STATUS_TEXT.get(status)
    label = device_label(name, lang)
    if rule is None:
        return f"{label}: {status}"
    return rule[lang].format(device=label, detail=detail)
