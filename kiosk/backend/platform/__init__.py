"""The reference government platform: e-certificates, matters, applications (SQLAlchemy)."""
