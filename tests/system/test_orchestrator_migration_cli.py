"""`liquid migrate` against a real orchestrator and real supervisors: a step moved by
index or module name, to a named device or where the solver puts it, said in one line
(or the record with --json); `--list` shows every migration as a table; mistakes on
the command line exit 2 with the usage, refusals exit 1 with the orchestrator's
reason.
"""
import json

from cli_util import ok, run_cli, table
from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import add_modules, create, deploy, execute, placed_devices, step

FAST = ["--health-interval", "300ms"]


def test_migrate_and_list(cluster, example, liquid_bin):
    orch, _ = cluster(3, orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "add", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 41})["result"] == {"result": "41"}

    def cli(*args):
        return run_cli(liquid_bin, orch.base, *args)

    out = ok(cli("migrate", "count", "counter", "--to", "s2"))
    assert out.startswith("moved step 0 (counter) from s1 to s2 in "), out
    assert "unavailable" in out
    assert execute(orch, dep, {"param0": 1})["result"] == {"result": "42"}

    record = json.loads(ok(cli("migrate", "count", "0", "--json")))
    assert record["fromName"] == "s2" and record["toName"] in ("s1", "s3")
    assert placed_devices(orch, dep) == [record["toName"]]
    assert execute(orch, dep, {"param0": 1})["result"] == {"result": "43"}

    rows = table(ok(cli("migrate", "--list", "count")))
    assert [(r["STEP"], r["MODULE"], r["FROM"], r["TO"], r["TRIGGER"], r["STATUS"])
            for r in rows] == [("0", "counter", "s1", "s2", "api", "completed"),
                               ("0", "counter", "s2", record["toName"], "api", "completed")]
    assert rows[1]["ID"] == record["id"]
    listed = json.loads(ok(cli("migrate", "--list", "count", "--json")))
    assert [m["id"] for m in listed] == [r["ID"] for r in rows]

    create(orch, "idle", step("counter", "get"))
    assert "has not been migrated" in ok(cli("migrate", "--list", "idle"))

    refused = cli("migrate", "count", "counter", "--to", "nowhere")
    assert refused.returncode == 1 and "no device 'nowhere'" in refused.stderr, refused
    refused = cli("migrate", "idle", "0")
    assert refused.returncode == 1 and "is not deployed" in refused.stderr, refused
    for args in (("migrate",), ("migrate", "count"), ("migrate", "count", "0", "extra"),
                 ("migrate", "--list"), ("migrate", "count", "0", "--bogus")):
        wrong = cli(*args)
        assert wrong.returncode == 2 and "usage: liquid migrate" in wrong.stderr, (args, wrong)
    assert "--to DEVICE" in ok(cli("migrate", "--help"))
