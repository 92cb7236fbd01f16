"""Settings read from the environment (``AGORA_*``); plain data, no framework."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/agora.db"
    redis_url: str | None = None
    sms: str = "console"  # console | aliyun
    email: str = "console"  # console | smtp
    payment: str = "sandbox"  # sandbox | alipay
    secret_key: str = "dev-insecure-secret-change-me-in-production!"  # noqa: S105 - embedded default only
    timezone: str = "Asia/Shanghai"
    base_url: str = "http://127.0.0.1:8000"
    token_ttl_seconds: int = 3600
    jobs_sync: bool = False  # in-process jobs run inline after commit (tests)
    run_scheduler: bool = True  # in-process periodic jobs (embedded mode only)
    storage_dir: str = "var/files"
    # seconds a verified API key is remembered per process (0: look it up on every request);
    # every api_key_revocation_check_seconds a process checks whether any key was revoked
    api_key_cache_seconds: int = 300
    api_key_revocation_check_seconds: int = 2
    # PostgreSQL pool: a checkout pings the server first only if db_pre_ping (a round trip per
    # unit of work); connections are replaced after db_pool_recycle seconds either way
    db_pre_ping: bool = False
    db_pool_recycle: int = 1800
    db_pool_size: int = 10
    # at most this many concurrent charges on one wallet share a transaction in one process
    # (ADR 0006); 1 turns combining off
    wallet_charge_batch: int = 16
    # a plain charge (cash only, no coupons, no payees) is decided on an unlocked read and
    # written by one statement that checks the decision still holds (ADR 0010); off: every
    # charge is decided under the wallet's lock
    wallet_unlocked_charges: bool = True
    # a process decides a plain charge on its copy of the wallet read within this many seconds
    # instead of reading it again (the statement still checks the terms on the live row;
    # ADR 0010 addendum of 2026-12-02); 0: read the wallet for every charge
    wallet_snapshot_seconds: int = 60
    # on a wallet other processes charge at least wallet_early_release_rate times a second,
    # a plain charge's statement frees the row before its commit is on disk, and the charge
    # is answered once a second, synchronous commit has flushed it (ADR 0013); off: the row
    # stays locked through every charge's own flush. A rate of 0: every plain charge
    wallet_early_lock_release: bool = True
    wallet_early_release_rate: int = 400
    # Aliyun SMS (AGORA_SMS=aliyun)
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    aliyun_sms_sign_name: str = "Agora"
    aliyun_sms_template_code: str = "SMS_000000"
    # SMTP (AGORA_EMAIL=smtp)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "agora@localhost"
    smtp_starttls: bool = False
    # Alipay (AGORA_PAYMENT=alipay)
    alipay_app_id: str = ""
    alipay_private_key_path: str = ""
    alipay_public_key_path: str = ""
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get("AGORA_" + field.name.upper())
            if raw is None:
                continue
            if field.type in ("bool", bool):
                values[field.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif field.type in ("int", int):
                values[field.name] = int(raw)
            elif raw == "" and "None" in str(field.type):
                values[field.name] = None
            else:
                values[field.name] = raw
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
