from __future__ import annotations

from sqlmodel import Field, SQLModel


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True, index=False)
    name_en: str = Field(max_length=120)
    name_zh: str = Field(max_length=120)

    def label(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en
