"""Several databases from settings and the CLI: checked together, then replicated, restored and listed together."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers import derive, litestream_child, read_rows, reaped, record, require, settings_env, wait_until, write_rows

from benchmarks.harness import writer
from pylts import ConfigS3, InvalidSettings
from pylts.cli import main
from pylts.databases import DatabaseList, DatabaseSet
from pylts.testing import LocalS3

T = TypeVar("T")

MAIN: dict[str, Any] = {"key": "AKIAEXAMPLE", "token": "s3cr3t-value", "s3": "s3://backups/app.db", "db": "app.db"}
NAMES = ["app.db", "queue.db", "cache.db"]


def main_config(folder: Path) -> ConfigS3:
    return ConfigS3(_env_file=None, folder=folder, **MAIN)


def pylts(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pylts", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_one_database_is_the_set_of_one(tmp_path: Path) -> None:
    cfg = main_config(tmp_path)
    assert DatabaseSet.of(cfg).configs == (cfg,)
    assert DatabaseSet.load(cfg, _env_file=None).configs == (cfg,)


def test_each_entry_is_made_by_the_class_of_the_main_settings(tmp_path: Path) -> None:
    """An app's own settings class (a ConfigS3 with its fields and defaults) carries over to every database."""

    class AppSettings(ConfigS3):
        app_name: str = "shop"

    main = AppSettings(_env_file=None, folder=tmp_path, app_name="orders", **MAIN)
    dbs = DatabaseSet.of(main, ["queue.db"])
    assert [type(cfg) for cfg in dbs.configs] == [AppSettings, AppSettings]
    assert dbs.configs[1].app_name == "orders"
    assert dbs.configs[1].dbpath == tmp_path / "queue.db"


def test_entries_come_from_the_environment_and_dotenv_and_share_every_other_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ConfigS3(_env_file=None, folder=tmp_path, endpoint="http://127.0.0.1:9000", region="auto", **MAIN)
    monkeypatch.setenv("PYLTS_DATABASES", f"queue.db , {tmp_path / 'jobs' / 'cache.db'}=s3://other/cache")
    dbs = DatabaseSet.load(cfg)
    assert [(c.dbpath, c.s3) for c in dbs.configs] == [
        (tmp_path / "app.db", "s3://backups/app.db"),
        (tmp_path / "queue.db", "s3://backups/queue.db"),
        (tmp_path / "jobs" / "cache.db", "s3://other/cache"),
    ]
    assert {(c.key, c.token, c.endpoint, c.region) for c in dbs.configs} == {(cfg.key, cfg.token, cfg.endpoint, "auto")}
    monkeypatch.delenv("PYLTS_DATABASES")
    Path(".env").write_text("PYLTS_DATABASES=queue.db\n")
    assert [c.db for c in DatabaseSet.load(cfg).configs] == ["app.db", "queue.db"]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (
            "{folder}/app.db=s3://backups/elsewhere",
            "PYLTS_DATABASES entry 1 ({folder}/app.db) and DB_SQLITE (app.db): are the same file",
        ),
        ("{folder}/other/app.db=s3://backups/elsewhere", "have the same file name app.db"),
        (
            "queue.db=s3://backups/app.db",
            "PYLTS_DATABASES entry 1 (queue.db) and DB_SQLITE (app.db): share the replica path s3://backups/app.db",
        ),
        ("queue.db=s3://backups/app.db/queue", "share the replica path s3://backups/app.db"),
        ("queue.db=s3://backups/app.db?region=us-east-1", None),  # another endpoint: another store
    ],
)
def test_two_entries_never_share_a_file_or_a_replica_path(entry: str, says: str | None, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    cfg = main_config(folder)
    if says is None:
        assert len(DatabaseSet.of(cfg, [entry.format(folder=folder)]).configs) == 2
        return
    with pytest.raises(InvalidSettings) as caught:
        DatabaseSet.of(cfg, [entry.format(folder=folder)])
    assert says.format(folder=folder) in str(caught.value)
    assert not folder.exists(), "nothing on disk was made or changed"


def test_a_clash_between_two_listed_entries_names_both(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match=r"entry 2 \(cache.db\) and PYLTS_DATABASES entry 1 \(queue.db\): share"):
        DatabaseSet.of(main_config(tmp_path), ["queue.db=s3://backups/q", "cache.db=s3://backups/q"])


def test_a_bad_entry_is_named_by_its_file_and_never_shows_its_url(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match=r"entry 2 \(queue.txt\): db: .*must end in .db"):
        DatabaseSet.of(main_config(tmp_path), ["cache.db", "queue.txt"])
    with pytest.raises(InvalidSettings) as caught:
        DatabaseSet.of(main_config(tmp_path), ["queue.db=s3://AKIAX:hunter2-secret@backups/q"])
    assert "entry 1 (queue.db)" in str(caught.value) and "must not carry credentials" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_the_cli_writes_one_config_for_every_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["config", "--s3", "s3://backups/app.db", "--folder", str(tmp_path), "--db", "app.db"]
    assert main([*args, "--use-aws-credential-chain", "--databases", "queue.db,cache.db=s3://backups/c"]) == 0
    text = capsys.readouterr().out
    for name, replica in [("app.db", "app.db"), ("queue.db", "queue.db"), ("cache.db", "c")]:
        assert f'path: "{tmp_path / name}"' in text and f'path: "{replica}"' in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["contents", "--databases", "app.db"], "are the same file"),
        (["follow", "--databases", "queue.db"], "follow works on one database"),
        (["restore", "--txid", "0000000000000003", "--databases", "queue.db"], "--txid is a position"),
    ],
)
def test_what_cannot_work_with_several_databases_exits_2_before_anything_runs(
    args: list[str], says: str, tmp_path: Path
) -> None:
    env = {"PATH": os.environ["PATH"], "REPLICA_URL": "s3://backups/app.db", "PYLTS_AWS_CREDENTIAL_CHAIN": "true"}
    result = pylts(*args, "--db", "app.db", "--folder", str(tmp_path / "data"), env=env, cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def rows_of(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        count: int = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        return count


@pytest.mark.integration
def test_backup_restore_if_missing_and_contents_of_three_databases(
    cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--once backs up each; restore --if-missing restores the missing ones, leaves the present one alone, and
    refuses a database from another history by name."""
    for name, value in settings_env(cfg, DB_SQLITE="app.db", PYLTS_DATABASES="queue.db,cache.db").items():
        monkeypatch.setenv(name, value)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        """The command line, run in this process (the other tests here run it as its own process)."""
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["pylts", *args], code, out, err)

    paths = [cfg.folder / name for name in NAMES]
    for number, path in enumerate(paths, start=1):
        write_rows(path, 10 * number)
    backed_up = cli("replicate", "--once")
    assert backed_up.returncode == 0, backed_up.stderr
    replicas = [f"{cfg.s3.rsplit('/', 1)[0]}/{path.name}" for path in paths]
    assert backed_up.stdout.splitlines() == [f"backed up {p} to {r}" for p, r in zip(paths, replicas, strict=True)]
    for path in paths[1:]:  # a new machine with the app's volume, but not the other two
        path.unlink()
    restored = cli("restore", "--if-missing")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.splitlines() == [f"{paths[0]}: existing", f"{paths[1]}: restored", f"{paths[2]}: restored"]
    assert [rows_of(path) for path in paths] == [10, 20, 30]
    listed = cli("contents")
    assert listed.returncode == 0, listed.stderr
    assert [line for line in listed.stdout.splitlines() if " at s3://" in line] == [
        f"{p} at {r}:" for p, r in zip(paths, replicas, strict=True)
    ]
    assert listed.stdout.count("latest backup written") == 3
    as_json = cli("contents", "--json")
    assert sorted(json.loads(as_json.stdout)) == sorted(str(path) for path in paths), as_json.stderr
    verified = cli("verify", "--sync")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert [line.split(": ")[0] for line in verified.stdout.splitlines()] == [str(p) for p in paths]
    assert all(line.split(": ")[1].startswith("ok") for line in verified.stdout.splitlines())
    derive(cfg, db="cache.db").delete()
    write_rows(paths[2], 1, start=500)  # another history where cache.db should be: the boot check refuses it
    refused = cli("restore", "--if-missing")
    assert refused.returncode == 5 and f"{paths[2]} is not from the history of its replica" in refused.stderr
    assert [rows_of(path) for path in paths] == [10, 20, 1], "nothing was changed"


SITE = """
import json, os
SECRET_KEY = "test-only"
INSTALLED_APPS = ["pylts.integrations.django"]
DATABASES = {
    name: {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(os.environ["DATA"], name + ".db")}
    for name in ("default", "jobs", "scratch")
}
DATABASES["memory"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
DATABASES["reports"] = {"ENGINE": "django.db.backends.postgresql", "NAME": "reports"}
PYLTS = {"s3": "s3://backups/site/default.db", **json.loads(os.environ["SITE_PYLTS"])}
"""


@pytest.mark.parametrize(
    ("pylts_setting", "replicated"),
    [
        ({}, {"default.db": "site/default.db", "jobs.db": "site/jobs.db", "scratch.db": "site/scratch.db"}),
        ({"databases": ["jobs"]}, {"default.db": "site/default.db", "jobs.db": "site/jobs.db"}),
        (
            {"databases": {"scratch": "s3://backups/elsewhere"}},
            {"default.db": "site/default.db", "scratch.db": "elsewhere"},
        ),
        ({"databases": ["reports"]}, "DATABASES['reports'] is not a SQLite file"),
        ({"databases": ["jobs", "nope"]}, "DATABASES has no 'nope'"),
    ],
)
def test_django_replicates_every_sqlite_file_in_databases_or_those_pylts_names(
    pylts_setting: dict[str, Any], replicated: dict[str, str] | str, tmp_path: Path
) -> None:
    require("django")
    (tmp_path / "site_settings.py").write_text(SITE)
    env = {
        "PATH": os.environ["PATH"],
        "DATA": str(tmp_path / "data"),
        "SITE_PYLTS": json.dumps(pylts_setting),
        "DJANGO_SETTINGS_MODULE": "site_settings",
        "PYTHONPATH": str(tmp_path),
        "PYLTS_AWS_CREDENTIAL_CHAIN": "true",
    }
    command = [sys.executable, "-m", "django", "pylts", "config"]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    if isinstance(replicated, str):
        assert result.returncode == 2 and replicated in result.stderr and "Traceback" not in result.stderr
        return
    assert result.returncode == 0, result.stderr
    paths = re.findall(r'- path: "(.*)"', result.stdout)
    replicas = re.findall(r'^      path: "(.*)"', result.stdout, flags=re.M)
    assert dict(zip([Path(p).name for p in paths], replicas, strict=True)) == replicated


@pytest.mark.integration
def test_the_django_app_replicates_the_databases_pylts_names(cfg: ConfigS3, tmp_path: Path) -> None:
    """PYLTS['databases'] as a dict: only the aliases named, each to its own replica."""
    require("django")
    site = tmp_path / "site"
    site.mkdir()
    (site / "site_settings.py").write_text(
        "import os\n"
        "SECRET_KEY = 'test-only'\n"
        "INSTALLED_APPS = ['pylts.integrations.django']\n"
        "DATABASES = {name: {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.path.join(os.environ['DATA'], file)}\n"
        "             for name, file in [('default', 'app.db'), ('jobs', 'jobs.db'), ('scratch', 'scratch.db')]}\n"
        "PYLTS = {'s3': os.environ['MAIN_REPLICA'], 'databases': {'jobs': os.environ['JOBS_REPLICA']}}\n"
    )
    bucket = cfg.s3.split("/")[2]
    env = settings_env(
        cfg,
        DATA=str(cfg.folder),
        MAIN_REPLICA=f"s3://{bucket}/site/app.db",
        JOBS_REPLICA=f"s3://{bucket}/jobs-replica",
        DJANGO_SETTINGS_MODULE="site_settings",
        PYTHONPATH=str(site),
    )
    write_rows(cfg.folder / "app.db", 1)
    write_rows(cfg.folder / "jobs.db", 7)
    write_rows(cfg.folder / "scratch.db", 3)
    command = [sys.executable, "-m", "django", "pylts", "replicate", "--once"]
    backed_up = subprocess.run(command, env=env, cwd=site, capture_output=True, text=True, timeout=180)
    assert backed_up.returncode == 0, backed_up.stderr
    assert f"backed up {cfg.folder / 'jobs.db'} to s3://{bucket}/jobs-replica" in backed_up.stdout
    assert "scratch.db" not in backed_up.stdout, "a database PYLTS does not name is not replicated"
    copy = derive(cfg, db="jobs.db", s3=f"s3://{bucket}/jobs-replica", folder=tmp_path / "copy")
    copy.restore()
    assert len(read_rows(copy.dbpath)) == 7


LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def restored_ids(cfg: ConfigS3, name: str, folder: Path) -> set[int]:
    replica = f"{cfg.s3.rsplit('/', 1)[0]}/{name}"
    copy = derive(cfg, db=name, s3=replica, folder=folder)
    copy.restore()
    return {row[0] for row in read_rows(copy.dbpath)}


@pytest.mark.long
@pytest.mark.integration
@pytest.mark.slow
def test_drill_pylts_replicate_with_three_databases_survives_litestream_killed_and_the_store_down(
    cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path
) -> None:
    """`pylts replicate` (the CLI) with three databases under write load: litestream is killed, then the store
    goes away for 10 s and comes back; after the final sync every committed row of each is in its replica."""
    env = settings_env(cfg, DB_SQLITE="app.db", PYLTS_DATABASES="queue.db,cache.db")
    for name in NAMES:
        write_rows(cfg.folder / name, 1)
    command = [sys.executable, "-m", "pylts", "replicate"]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with reaped(process), contextlib.ExitStack() as writers:
        assert process.stderr is not None
        said = iter(process.stderr.readline, "")
        assert any("running until stopped" in line for line in said), "in sync before it says so"
        committed = {name: writers.enter_context(writer(cfg.folder / name, LOAD, per_second=30)) for name in NAMES}
        time.sleep(2)
        assert wait_until(lambda: litestream_child(process.pid), 10), "no litestream runs under pylts replicate"
        victim = litestream_child(process.pid)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        assert wait_until(lambda: {litestream_child(process.pid)} - {None, victim}, 30), "litestream was not restarted"
        restarted = time.monotonic() - killed
        time.sleep(2)
        local_s3.stop()
        try:
            time.sleep(10)
        finally:
            local_s3.start()
        time.sleep(5)
        writers.close()  # the app stops writing, then is stopped as a process manager would
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        err = process.communicate(timeout=120)[1]
        stopped = time.monotonic() - stopping
    assert process.returncode == 0 and "pylts: exit 0" in err, err
    assert err.count("final sync of ") == len(NAMES), err
    for name in NAMES:
        held = restored_ids(cfg, name, tmp_path / "copy" / name)
        missing = (set(committed[name]) | {0}) - held
        assert not missing, f"{name}: {len(missing)} committed rows missing, {min(missing)} to {max(missing)}:\n{err}"
        assert len(committed[name]) > 100, "the writer kept writing through the drill"
    record(
        "14. three databases under `pylts replicate`: litestream killed, store down 10 s",
        cfg,
        f"litestream back after {restarted:.1f} s; {sum(map(len, committed.values()))} rows written to 3 databases, "
        f"all restored from their replicas; stopped {stopped:.1f} s after SIGTERM",
    )


APP = """
import os, signal, sqlite3, sys
for path in sys.argv[1:]:
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO items (id, body) VALUES (?, 'from the app')", [(i,) for i in range(100, 150)])
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.integration
@pytest.mark.slow
def test_drill_app_killed_under_replicate_exec_with_three_databases(cfg: ConfigS3, tmp_path: Path) -> None:
    """The app is killed (SIGKILL) after committing to three databases: its code is passed on, every row kept."""
    env = settings_env(cfg, DB_SQLITE="app.db", PYLTS_DATABASES="queue.db,cache.db")
    for name in NAMES:
        write_rows(cfg.folder / name, 1)
    (tmp_path / "app.py").write_text(APP)
    app = shlex.join([sys.executable, str(tmp_path / "app.py"), *(str(cfg.folder / name) for name in NAMES)])
    started = time.monotonic()
    result = pylts("replicate", "--exec", app, env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 128 + signal.SIGKILL, result.stderr
    for name in NAMES:
        assert restored_ids(cfg, name, tmp_path / "copy" / name) == {0, *range(100, 150)}
    record(
        "14. three databases under `pylts replicate --exec`: app killed (SIGKILL)",
        cfg,
        f"exit {result.returncode} passed on after {took:.1f} s; the app's 50 rows in each of 3 replicas",
    )


def test_the_setting_is_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    page, example = (root / "docs" / "configuration.md").read_text(), (root / ".env.example").read_text()
    for name, field in DatabaseList.model_fields.items():
        assert f"| `{name}` | `{field.validation_alias}` |" in page and f"\n{field.validation_alias}=\n" in example


def test_each_database_gets_its_own_second_destination_path(tmp_path: Path) -> None:
    cfg = ConfigS3(_env_file=None, folder=tmp_path, secondary_url="s3://copies/queue.db", **MAIN)
    with pytest.raises(InvalidSettings, match=r"share the second destination's path s3://copies/queue.db"):
        DatabaseSet.of(cfg, ["queue.db"])
    named = ConfigS3(_env_file=None, folder=tmp_path, secondary_url="s3://copies/prod/app.db", **MAIN)
    assert [c.secondary_url for c in DatabaseSet.of(named, ["queue.db"]).configs] == [
        "s3://copies/prod/app.db",
        "s3://copies/prod/queue.db",
    ]


@pytest.mark.integration
def test_each_database_snapshots_to_its_own_second_destination_and_keeps_its_own(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    """Two databases, one PYLTS_SECONDARY_URL: neither restores nor deletes the other's snapshots."""
    copies = f"{bucket[:40]}-copies"
    local_s3.create_bucket(copies)
    dbs = DatabaseSet.of(derive(cfg, secondary_url=f"s3://{copies}/app.db", secondary_keep=2), ["queue.db"])
    app, queue = dbs.configs
    taken: dict[str, list[str]] = {"app.db": [], "queue.db": []}
    for round_ in range(3):
        write_rows(app.dbpath, 10, start=round_ * 10)
        write_rows(queue.dbpath, 1, start=round_)
        for db in dbs.configs:
            taken[db.db].append(db.secondary_snapshot().name)
            time.sleep(0.01)  # names are to the millisecond
    folders = {tuple(key.split("/")[:2]) for key in local_s3.keys(copies)}
    assert folders == {(name, snapshot) for name, names in taken.items() for snapshot in names[1:]}, taken
    for db in dbs.configs:
        db.delete()
    queue.restore(source="secondary")
    app.restore(source="secondary")
    assert len(read_rows(queue.dbpath)) == 3 and len(read_rows(app.dbpath)) == 30
