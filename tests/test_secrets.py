"""The access key and secret never leave the child's environment: one test per channel they could leak through."""

from __future__ import annotations

import base64
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from helpers import derive, free_port, pylts_log, read_rows, settings_env, write_rows

from pylts import ConfigS3, CredentialsRejected, LitestreamError, UnsupportedLitestreamVersion
from pylts.binary import find_executable
from pylts.sqlite_files import config_path_for, replicate_config_path_for
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration
KEY, SECRET = "AKIASECRETSCHANNEL42", "the-secret-channel-value-0xC0FFEE"
SSE_KEY = base64.b64encode(b"pylts-sse-c-channel-key-32-bytes").decode()


@pytest.fixture
def secret_cfg(local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path) -> ConfigS3:
    return local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, key=KEY, token=SECRET
    )


def clean(text: str) -> None:
    assert KEY not in text, "the access key leaked"
    assert SECRET not in text, "the secret leaked"


@contextmanager
def litestream_children() -> Iterator[dict[str, list[str]]]:
    """While the block runs, collect every running litestream's cmdline, environment, log lines, 0.3 config files."""
    seen: dict[str, list[str]] = {"cmdlines": [], "environments": [], "logs": [], "configs": []}

    def sink(record: logging.LogRecord) -> None:
        text = record.getMessage()
        seen["logs"].append(f"{record.levelname} {record.name} {text}")
        pid = text.partition("litestream[")[2].partition("]")[0]
        if pid.isdigit():
            with suppress(OSError):
                # The environment first: a process that exits between the two reads then shows an empty cmdline
                # (a zombie's is empty) and is skipped, instead of counting as one that ran without the secret.
                environment = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                seen["cmdlines"].append(cmdline)
                if cmdline and cmdline.split("\0")[1] != "version":  # exited: empty; version: needs no store
                    seen["environments"].append(f"{cmdline}\n{environment}")
        for word in text.split():
            if word.endswith("-pylts.yml") and Path(word).is_file():
                seen["configs"].append(f"{oct(Path(word).stat().st_mode & 0o777)} {Path(word).read_text()}")

    with pylts_log(sink):
        yield seen


def workload(cfg: ConfigS3) -> None:
    """Backup, restore, continuous replication, verify and a listing: every kind of litestream run."""
    write_rows(cfg.dbpath, 5)
    assert cfg.timed_replicate(30)
    cfg.restore()
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 5, start=5)
        assert replication.wait_for_sync(30)
        assert cfg.verify(timeout=30).ok
    cfg.replica_contents()


def test_channel_child_argv(secret_cfg: ConfigS3) -> None:
    with litestream_children() as seen:
        workload(secret_cfg)
    assert len(seen["cmdlines"]) >= 5, "running litestream processes were observed"
    clean("\n".join(seen["cmdlines"]))
    assert seen["environments"], "their environments were observed"
    without = [seen.partition("\n")[0] for seen in seen["environments"] if SECRET not in seen]
    assert not without, f"their environment is the channel, but these had no secret: {without}"
    clean("\n".join(f"{name}={value}" for name, value in os.environ.items()))  # not this process's: apps inherit it


def test_channel_log_lines(secret_cfg: ConfigS3, local_s3: LocalS3) -> None:
    with litestream_children() as seen:
        workload(secret_cfg)
        local_s3.require_auth(True)
        try:
            with pytest.raises(CredentialsRejected):
                secret_cfg.restore(overwrite=True)
        finally:
            local_s3.require_auth(False)
    assert len(seen["logs"]) > 20
    clean("\n".join(seen["logs"]))


def test_channel_log_lines_of_a_failed_heartbeat_ping(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """litestream 0.5 logs the URL of a ping that failed; a ping URL is its monitor's credential."""
    capability = "ping-capability-7f3e"
    cfg = local_s3.config(
        bucket,
        "app.db",
        db="app.db",
        folder=tmp_path / "data",
        litestream_bin=find_executable(),
        key=KEY,
        token=SECRET,
        heartbeat_url=f"http://127.0.0.1:{free_port()}/{capability}",  # nothing listens: the ping fails
        heartbeat_interval="1m",
    )
    write_rows(cfg.dbpath, 1)
    seen: list[str] = []
    with pylts_log(lambda record: seen.append(record.getMessage())), cfg.replicating():
        deadline = time.monotonic() + 60  # litestream looks every 15 s once in sync
        while not any("heartbeat ping failed" in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.5)
    failed = [line for line in seen if "heartbeat ping failed" in line]
    assert failed, "litestream tried the ping and logged its failure"
    assert "url=***" in failed[0], "the URL litestream printed was redacted"
    assert capability not in "\n".join(seen)
    clean("\n".join(seen))


def test_channel_reprs_of_public_objects(secret_cfg: ConfigS3) -> None:
    write_rows(secret_cfg.dbpath, 1)
    with secret_cfg.replicating() as replication:
        status = replication.status()
        shown = [replication, status, *status.databases, secret_cfg.verify(timeout=30)]
    shown += [
        secret_cfg,
        secret_cfg.replica,
        secret_cfg.plan(),
        secret_cfg.ensure_restored(),
        secret_cfg.replica_contents(),
    ]
    clean("\n".join(f"{obj!r} {obj!s}" for obj in shown) + secret_cfg.model_dump_json())


def test_channel_exception_texts(secret_cfg: ConfigS3, local_s3: LocalS3) -> None:
    write_rows(secret_cfg.dbpath, 1)
    local_s3.require_auth(True)
    errors: list[LitestreamError] = []
    try:
        for call in (
            lambda: secret_cfg.timed_replicate(20),
            lambda: secret_cfg.restore(overwrite=True),
            lambda: secret_cfg.replicating(ready_timeout=20).start(),
            lambda: secret_cfg.replica_contents(),
        ):
            with pytest.raises(CredentialsRejected) as caught:
                call()
            errors.append(caught.value)
        failed = secret_cfg.verify(timeout=20, sync=True)
    finally:
        local_s3.require_auth(False)
    assert failed.status == "failed"
    clean("\n".join(f"{e!s} {e!r} {e.argv} {e.output}" for e in errors) + failed.detail)


def test_channel_generated_config_files(secret_cfg: ConfigS3, tmp_path: Path) -> None:
    written = secret_cfg.write_litestream_config(tmp_path / "litestream.yml")
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert "${LITESTREAM_SECRET_ACCESS_KEY}" in written.read_text()
    clean(written.read_text())
    with litestream_children() as seen:
        workload(secret_cfg)
    if secret_cfg.plan().line.reads_config_file:
        assert seen["configs"], "the config litestream reads was observed while it ran"
        assert all(config.startswith("0o600 ") for config in seen["configs"])
    clean("\n".join(seen["configs"]))
    assert not config_path_for(secret_cfg.dbpath).exists(), "and removed afterwards"


def test_channel_sse_customer_key(secret_cfg: ConfigS3, tmp_path: Path) -> None:
    """The SSE-C key travels like the secret: in litestream's environment only, never in what it is told or says."""
    cfg = derive(secret_cfg, sse_customer_key=SSE_KEY)
    if not derive(cfg, sse_customer_key=None).plan().line.has_server_side_encryption:
        with pytest.raises(UnsupportedLitestreamVersion) as refused:
            workload(cfg)
        assert SSE_KEY not in f"{refused.value!s} {refused.value!r}"
        return
    written = cfg.write_litestream_config(tmp_path / "litestream.yml")
    assert "${PYLTS_SSE_CUSTOMER_KEY}" in written.read_text()
    with litestream_children() as seen:
        workload(cfg)
        with cfg.replicating() as replication:
            running = replicate_config_path_for(cfg.dbpath)
            configs = [f"{oct(running.stat().st_mode & 0o777)} {running.read_text()}", written.read_text()]
            shown = [replication, replication.status(), cfg, cfg.plan(), cfg.replica, cfg.replication()]
    assert "${PYLTS_SSE_CUSTOMER_KEY}" in configs[0] and configs[0].startswith("0o600 ")
    assert seen["configs"], "the configs of the one-shot runs were observed while they ran"
    assert all(config.startswith("0o600 ") for config in seen["configs"])
    assert seen["environments"], "the environments of the litestream runs were observed"
    without = [environment.partition("\n")[0] for environment in seen["environments"] if SSE_KEY not in environment]
    assert not without, f"their environment is the channel, but these had no key: {without}"
    everything = [*seen["cmdlines"], *seen["logs"], *seen["configs"], *configs, cfg.model_dump_json()]
    assert SSE_KEY not in "\n".join([*everything, *(f"{obj!r} {obj!s}" for obj in shown)])
    assert not config_path_for(cfg.dbpath).exists(), "the one-shot runs' config was removed"


def test_channel_cli_output(secret_cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path) -> None:
    write_rows(secret_cfg.dbpath, 1)
    assert secret_cfg.timed_replicate(30), "a backup for `pylts contents` to list (the local copy is deleted)"
    env = settings_env(secret_cfg)
    runs = [
        ["--help"],
        *[[name, "--help"] for name in ("restore", "replicate", "verify", "config", "status", "version")],
        ["config"],
        ["status"],
        ["contents"],
        ["contents", "--json"],
    ]
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "pylts", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        for args in runs
    ]
    local_s3.require_auth(True)
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "pylts", "restore"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        local_s3.require_auth(False)
    assert refused.returncode == 1 and "LITESTREAM_ACCESS_KEY_ID" in refused.stderr
    assert "ltx  level" in outputs[-2].stdout or "generation " in outputs[-2].stdout, outputs[-2].stdout
    clean("\n".join(r.stdout + r.stderr for r in [*outputs, refused]))


def test_channel_app_environment(secret_cfg: ConfigS3, tmp_path: Path) -> None:
    """Credentials read from ``.env`` reach litestream, never the app ``pylts replicate --exec`` starts."""
    env = settings_env(secret_cfg)
    credentials = {name: env.pop(name) for name in ("LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY")}
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in credentials.items()))
    write_rows(secret_cfg.dbpath, 1)
    seen = tmp_path / "app-environment.json"
    dump = "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps(dict(os.environ)))"
    app = f"{shlex.quote(sys.executable)} -c {shlex.quote(dump)} {shlex.quote(str(seen))}"
    result = subprocess.run(
        [sys.executable, "-m", "pylts", "replicate", "--exec", app],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    app_environment = json.loads(seen.read_text())
    assert app_environment["DB_FOLDER"] == str(secret_cfg.folder), "the app got pylts' environment"
    clean(seen.read_text())


#: Secrets that are everywhere in litestream's output: one letter, and words of its JSON keys and log fields.
EVERYWHERE = pytest.mark.parametrize(("key", "token"), [("k", "s"), ("level", "txid")], ids=["one-letter", "json-keys"])


def litestream_said(logs: list[str]) -> list[str]:
    """What litestream printed, as pylts logged it (``litestream[PID] LINE``)."""
    return [text.partition("] ")[2] for text in logs if text.startswith("litestream[")]


@pytest.mark.slow
@EVERYWHERE
def test_secrets_everywhere_in_the_output_are_read_around_and_hidden_where_shown(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path, key: str, token: str
) -> None:
    """litestream's output is parsed as printed and redacted only where shown: with the secret ``s``, masking
    ``"size"`` into ``"***ize"`` before parsing once failed the final sync of ``pylts replicate``."""
    cfg = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, key=key, token=token
    )
    logs: list[str] = []
    with pylts_log(lambda record: logs.append(record.getMessage())):
        write_rows(cfg.dbpath, 5)
        with cfg.replicating() as replication:  # leaving the block makes and checks the final sync
            write_rows(cfg.dbpath, 5, start=5)
            assert replication.wait_for_sync(30)
            verified = cfg.verify(timeout=30)
        contents = cfg.replica_contents()
        cfg.dbpath.unlink()
        cfg.restore()
    assert verified.ok, verified.detail
    assert not contents.empty and contents.latest is not None
    assert len(read_rows(cfg.dbpath)) == 10, "every acknowledged row came back"
    said = litestream_said(logs)
    assert len(said) > 5, "litestream's lines were logged"
    for secret in (key, token):
        assert not [line for line in said if secret in line], f"{secret!r} is redacted in each line shown"
        argvs = [log for log in logs if log.startswith("running ") and not log.endswith(" version")]  # no secrets
        assert argvs and not [argv for argv in argvs if secret in argv], "and in each argv shown"


@pytest.mark.slow
@EVERYWHERE
def test_secrets_everywhere_in_the_output_are_masked_in_errors_that_quote_litestream(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path, key: str, token: str
) -> None:
    """Errors name the cause litestream printed (read before masking) and quote its words masked."""
    cfg = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, key=key, token=token
    )
    write_rows(cfg.dbpath, 1)
    local_s3.require_auth(True)
    errors: list[LitestreamError] = []
    try:
        for call in (
            lambda: cfg.timed_replicate(20),
            lambda: cfg.restore(overwrite=True),
            lambda: cfg.replicating(ready_timeout=20).start(),
            lambda: cfg.replica_contents(),
        ):
            with pytest.raises(CredentialsRejected) as caught:
                call()
            errors.append(caught.value)
        cli = subprocess.run(
            [sys.executable, "-m", "pylts", "contents"],
            env=settings_env(cfg),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        local_s3.require_auth(False)
    assert cli.returncode == 1 and "LITESTREAM_ACCESS_KEY_ID" in cli.stderr, cli.stderr
    quoted = [error.output for error in errors] + [cli.stderr.partition("failed: ")[2].rpartition("; ")[0]]
    quoted += [str(error).partition(": ")[2].rpartition("; ")[0] for error in errors]  # between pylts' words
    assert all(quoted), f"each error quotes litestream: {quoted}"
    for secret in (key, token):
        assert not [text for text in quoted if secret in text], f"{secret!r} is masked in what litestream said"
