"""Identity and document codes: signed, expiring payloads carried in QR codes (pure)."""
