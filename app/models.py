"""Every table, imported once so SQLModel's metadata knows them (Alembic, tests)."""

from app.auth.models import LoginFailure, ServiceToken
from app.core.audit import AuditRecord
from app.departments.models import Department
from app.processes.models import Process, ProcessDepartment
from app.users.models import User

__all__ = ["AuditRecord", "Department", "LoginFailure", "Process", "ProcessDepartment", "ServiceToken", "User"]
