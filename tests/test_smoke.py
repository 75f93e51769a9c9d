from app.users.models import Role


def test_me_and_list(client, factory):
    admin = factory.user(Role.admin)
    factory.process(owner=admin, code="YH-LC99", name="x")
    r = client.get("/api/v1/users/me", headers=factory.bearer(admin))
    assert r.status_code == 200 and r.json()["email"] == admin.email
    r = client.get("/api/v1/processes", headers=factory.bearer(admin))
    assert [p["code"] for p in r.json()["items"]] == ["YH-LC99"]


def test_openapi_documents_every_domain(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/processes", "/api/v1/initiatives/{initiative_id}/priority-matrix",
                 "/api/v1/initiatives/{initiative_id}/raci", "/api/v1/initiatives/{initiative_id}/measures",
                 "/api/v1/metrics/series", "/api/v1/event-logs/{log_id}/analysis", "/api/v1/service-tokens"):
        assert path in paths, path
    undocumented = [f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
                    if not op.get("description")]
    assert undocumented == []
