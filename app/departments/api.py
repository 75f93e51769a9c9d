from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.departments import service
from app.departments.schemas import DepartmentCreate, DepartmentRead

router = APIRouter(prefix="/departments", tags=["departments"])


@router.get("", response_model=list[DepartmentRead], dependencies=[require_scope("read")])
def list_departments(session: SessionDep, actor: CurrentActor) -> list:
    """All departments, ordered by code."""
    return service.list_departments(session)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DepartmentRead,
             dependencies=[require_scope("write")])
def create_department(data: DepartmentCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Create a department (administrators only)."""
    dept = service.create_department(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/departments/{dept.id}"
    return dept
