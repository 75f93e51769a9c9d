from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["read", "write", "metrics:read", "metrics:write", "controls:check"]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the token expires.")


class ServiceTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120, examples=["Power BI refresh"])
    scopes: list[Scope] = Field(min_length=1, examples=[["metrics:read"]])
    expires_at: datetime | None = Field(None, description="Optional expiry (timezone-aware).")


class ServiceTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by_id: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ServiceTokenCreated(ServiceTokenRead):
    token: str = Field(description="The secret. Shown only in this response; store it now.")
