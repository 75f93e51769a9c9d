from app.users.models import Role


def test_me_and_list(client, factory):
    admin = factory.user(Role.admin)
    factory.process(owner=admin, code="YH-LC99", name="x")
    r = client.get("/api/v1/users/me", headers=factory.bearer(admin))
    assert r.status_code == 200 and r.json()["email"] == admin.email
    r = client.get("/api/v1/processes", headers=factory.bearer(admin))
    assert [p["code"] for p in r.json()["items"]] == ["YH-LC99"]
