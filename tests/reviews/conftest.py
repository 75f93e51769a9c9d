from tests.initiatives.conftest import _fast_password_hashing, ifactory, team  # noqa: F401
