"""Signed bearer tokens (JWT, HS256) with PyJWT."""
from __future__ import annotations

from datetime import UTC, datetime

import jwt

from application.identity.ports import TokenClaims, TokenIssuer


class JwtTokenIssuer(TokenIssuer):
    def __init__(self, secret: str, ttl_seconds: int = 3600, issuer: str = "agora") -> None:
        self.secret = secret
        self.ttl = ttl_seconds
        self.issuer = issuer

    def issue(self, user_id: str, org_id: str, now: datetime, credential_version: str) -> tuple[str, int]:
        iat = int(now.timestamp())
        token = jwt.encode({"sub": user_id, "org": org_id, "iat": iat, "exp": iat + self.ttl, "iss": self.issuer,
                            "cv": credential_version},
                           self.secret, algorithm="HS256")
        return token, self.ttl

    def verify(self, token: str, now: datetime) -> TokenClaims | None:
        try:
            data = jwt.decode(token, self.secret, algorithms=["HS256"], issuer=self.issuer,
                              options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                       "require": ["sub", "org", "iat", "exp", "cv"]})
        except jwt.PyJWTError:
            return None
        if now.timestamp() >= data["exp"]:  # checked against our clock, so tests can steer it
            return None
        return TokenClaims(user_id=data["sub"], org_id=data["org"],
                           issued_at=datetime.fromtimestamp(data["iat"], UTC),
                           expires_at=datetime.fromtimestamp(data["exp"], UTC),
                           credential_version=str(data["cv"]))
