#!/usr/bin/env python3
"""A typed client generated from the served document runs the journeys
(scripts/client-journey.sh).

Starts `petraf serve`, generates a Python client from its
`/api/openapi.json` with openapi-python-client (the README's commands, in a
temporary directory), imports it and drives, through the client's typed
functions and models only:

- Sarah's journey: create → profile → chat turns (the stream read raw: the
  client hands back its bytes) → complete → goals → export → resume;
- an admin's: upload a document (multipart) → list → stats → audit log.

Any operation the generator skipped, a model that does not read what the
server sends, or an answer other than the documented one fails the run.
"""

import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile

from server import DEMO_TENANT, PLATFORM_KEY, PROFILE, TURNS, Server, sse_events


def generate(generator, base, workdir):
    """The README's "Generate a typed client" command, verbatim but for the URL."""
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client-config.yml")
    command = [generator, "generate", "--url", f"{base}/api/openapi.json", "--meta", "none",
               "--config", config, "--output-path", "petraf_client", "--fail-on-warning"]
    print("$", " ".join(["openapi-python-client"] + command[1:]), flush=True)
    env = dict(os.environ, PATH=os.path.dirname(generator) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(command, cwd=workdir, env=env, check=True)
    sys.path.insert(0, workdir)
    return importlib.import_module("petraf_client")


def module(client_package, path):
    return importlib.import_module(f"petraf_client.{path}")


def expect(response, status, what):
    assert response.status_code == status, f"{what}: {response.status_code} {response.content[:300]!r}"
    return response.parsed


def sarahs_journey(pc, base):
    from petraf_client import AuthenticatedClient, Client
    from petraf_client.models import CreateSession, ProfileInput, ResumeSession, TurnRequest
    from petraf_client.models.create_session_metadata_type_0 import CreateSessionMetadataType0

    api = lambda name: importlib.import_module(f"petraf_client.api.{name}")  # noqa: E731
    anonymous = Client(base_url=base)
    metadata = CreateSessionMetadataType0.from_dict({"source": "client-journey"})
    created = expect(api("session.create_session").sync_detailed(
        client=anonymous, body=CreateSession(metadata=metadata), x_tenant_id=DEMO_TENANT), 201, "create")
    session = created.session_id
    employee = AuthenticatedClient(base_url=base, token=created.resume_token)
    tenant = {"x_tenant_id": DEMO_TENANT}

    profile = ProfileInput.from_dict(PROFILE)
    view = expect(api("session.update_profile").sync_detailed(session, client=employee, body=profile, **tenant),
                  200, "profile")
    assert str(view.current_phase) == "g4_future", view

    from petraf_client.models import ChatPhase, StepName
    for phase, message in TURNS:
        # The generated function cannot parse a stream: the typed body, and
        # the client's own connection (base URL, token), read raw.
        body = TurnRequest(session_id=session, message=message, step=StepName.COLLECT)
        response = employee.get_httpx_client().post(
            f"/api/chat/{ChatPhase(phase).value}/stream", json=body.to_dict(),
            headers={"X-Tenant-ID": DEMO_TENANT})
        assert response.status_code == 200, response.content[:300]
        names = [name for name, _ in sse_events(response.text)]
        assert names[0] == "start" and names[-1] == "complete", names

    done = expect(api("session.complete_session").sync_detailed(session, client=employee, **tenant), 200, "complete")
    assert done.success, done
    goals = expect(api("goals.session_goals").sync_detailed(session, client=employee, final_only=True, **tenant),
                   200, "goals")
    assert goals.completed == 3 and all(g.is_final for g in goals.goals), goals

    from petraf_client.models import ExportFormatName
    exported = api("goals.export_goals").sync_detailed(session, client=employee, format_=ExportFormatName.MD, **tenant)
    assert exported.status_code == 200 and b"#" in exported.content, exported.content[:200]

    resumed = expect(api("session.resume_session").sync_detailed(
        client=anonymous, body=ResumeSession(resume_token=created.resume_token), **tenant), 200, "resume")
    assert str(resumed.status) == "completed", resumed
    print(f"Sarah: create → profile → {len(TURNS)} chat turns → complete → goals ({goals.completed} final) "
          "→ export → resume, through the generated client")


def admins_journey(pc, base):
    from petraf_client import AuthenticatedClient
    from petraf_client.models import UploadFormSchema
    from petraf_client.types import File

    api = lambda name: importlib.import_module(f"petraf_client.api.{name}")  # noqa: E731
    admin = AuthenticatedClient(base_url=base, token=PLATFORM_KEY, prefix="", auth_header_name="X-Admin-Key")
    text = b"# Career ladder\n\nSenior engineers lead the design of systems and mentor others.\n"
    form = UploadFormSchema(file=File(payload=io.BytesIO(text), file_name="ladder.md", mime_type="text/markdown"),
                            category="career_framework", metadata=json.dumps({"title": "Career ladder"}))
    report = expect(api("admin.upload_document").sync_detailed(DEMO_TENANT, client=admin, body=form), 200, "upload")
    listing = expect(api("admin.list_documents").sync_detailed(DEMO_TENANT, client=admin), 200, "list")
    assert any(d.id == report.document_id for d in listing.documents), listing
    stats = expect(api("admin.stats_overview").sync_detailed(client=admin, tenant_id=DEMO_TENANT), 200, "stats")
    assert stats.total_sessions >= 1, stats
    audit = expect(api("admin.audit_logs").sync_detailed(client=admin, tenant_id=DEMO_TENANT, limit=200), 200, "audit")
    actions = {entry.action for entry in audit.logs}
    assert "session.created" in actions, actions
    print(f"admin: upload ({report.document_id}) → list ({listing.total}) → stats → audit ({audit.total} entries), "
          "through the generated client")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--petraf", required=True, help="the petraf binary")
    parser.add_argument("--generator", required=True, help="the openapi-python-client command")
    args = parser.parse_args()
    server = Server(args.petraf)
    try:
        with tempfile.TemporaryDirectory(prefix="petraf-client-") as workdir:
            client = generate(args.generator, server.base, workdir)
            sarahs_journey(client, server.base)
            admins_journey(client, server.base)
        print("client journey: passed")
        return 0
    except BaseException:
        print("petraf serve's log (tail):\n" + server.logs()[-3000:])
        raise
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
