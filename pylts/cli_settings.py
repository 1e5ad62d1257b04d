"""The settings each ``pylts`` command takes as options, generated from the settings models.

Written by ``python3 tasks.py cli-docs`` (`pylts.cli.settings_tables_source`), so that the command line
is built without importing pydantic; tests/test_cli.py fails while it differs from the models.
"""

# ruff: noqa: E501  (each help is one line, as its field says it)

#: An option's flags, the setting it sets, its help, and whether it is a flag (``--x``/``--no-x``).
SettingOption = tuple[tuple[str, ...], str, str, bool]

#: the settings options of the commands that work on databases (`ConfigS3`, `DatabaseList`)
DATABASE: tuple[SettingOption, ...] = (
    (
        ("--sse-kms-key-id",),
        "sse_kms_key_id",
        "litestream 0.5 only; the id, ARN or alias of the KMS key the store encrypts with (SSE-KMS, AWS); not with sse_customer_key [PYLTS_SSE_KMS_KEY_ID]",
        False,
    ),
    (
        ("--cost-profile",),
        "cost_profile",
        "default or low (litestream 0.5 only): low lists the store every 5 minutes instead of every 15 s (L0 retention) and every minute (replica check), so an idle database costs under one request a minute; the sync interval is left alone; what you set yourself wins (default default) [PYLTS_COST_PROFILE]",
        False,
    ),
    (
        ("--l0-retention-check-interval",),
        "l0_retention_check_interval",
        "litestream 0.5 only; how often litestream lists the replica to delete L0 files past l0_retention: one or two LIST requests each, the most of an idle database's (default 15s (5m with cost_profile=low)) [PYLTS_L0_RETENTION_CHECK_INTERVAL]",
        False,
    ),
    (
        ("--replica-check-interval",),
        "replica_check_interval",
        "at least 1s, or 0 / off; how often the replica itself is listed while replicating (default 1m (5m with cost_profile=low)) [PYLTS_REPLICA_CHECK_INTERVAL]",
        False,
    ),
    (
        ("--secondary-url",),
        "secondary_url",
        "s3://BUCKET/PATH of a second destination (another bucket, region or provider): a full snapshot of the database goes there every secondary_interval, each in a folder of its own (default off) [PYLTS_SECONDARY_URL]",
        False,
    ),
    (
        ("--secondary-interval",),
        "secondary_interval",
        "at least 1s; how often a snapshot goes to the second destination: what a lost primary costs at most (default 1h) [PYLTS_SECONDARY_INTERVAL]",
        False,
    ),
    (
        ("--secondary-keep",),
        "secondary_keep",
        "how many snapshots the second destination keeps; older ones are deleted once a newer one is proven by listing (default 24) [PYLTS_SECONDARY_KEEP]",
        False,
    ),
    (
        ("--secondary-endpoint",),
        "secondary_endpoint",
        "http:// or https:// URL of the second store, when it is not the primary's (default the primary's) [PYLTS_SECONDARY_ENDPOINT]",
        False,
    ),
    (
        ("--secondary-region",),
        "secondary_region",
        "the second store's region (default the primary's, on the primary's store) [PYLTS_SECONDARY_REGION]",
        False,
    ),
    (
        ("--alert-after",),
        "alert_after",
        "how long a database must stay failing (or restarting) before the alert; a shorter blip raises none (default 1m) [PYLTS_ALERT_AFTER]",
        False,
    ),
    (
        ("--replica-url", "--s3"),
        "s3",
        "s3://BUCKET/PATH, optional query (?endpoint=...&region=...) [REPLICA_URL]",
        False,
    ),
    (
        ("--folder",),
        "folder",
        "the database's folder; made absolute; created by restore() when needed (default ./data) [DB_FOLDER]",
        False,
    ),
    (
        ("--db",),
        "db",
        "a plain file name ending .db, .sqlite or .sqlite3 (default db.sqlite) [DB_SQLITE]",
        False,
    ),
    (
        ("--endpoint",),
        "endpoint",
        "http:// or https:// URL of an S3-compatible store (default AWS) [REPLICA_ENDPOINT]",
        False,
    ),
    (
        ("--region",),
        "region",
        "e.g. auto for R2, us-west-004 for B2 (default the store's) [REPLICA_REGION]",
        False,
    ),
    (
        ("--force-path-style",),
        "force_path_style",
        "false for stores that want virtual-host addressing (default on with an endpoint) [REPLICA_FORCE_PATH_STYLE]",
        True,
    ),
    (
        ("--provider",),
        "provider",
        "a preset that fills endpoint, region, path style, signing and upload concurrency for aws, r2, b2, tigris, minio, hetzner, digitalocean, wasabi or scaleway; what you set yourself wins [REPLICA_PROVIDER]",
        False,
    ),
    (
        ("--account-id",),
        "account_id",
        "the account id a provider's endpoint is built from (r2) [REPLICA_ACCOUNT_ID]",
        False,
    ),
    (
        ("--litestream-bin",),
        "litestream_bin",
        "path of a litestream 0.5 (0.5.17 or later) or 0.3.13 executable (default beside Python, then PATH) [LITESTREAM_BIN]",
        False,
    ),
    (
        ("--use-aws-credential-chain",),
        "use_aws_credential_chain",
        "true lets litestream use instance roles, AWS_PROFILE... (default false) [PYLTS_AWS_CREDENTIAL_CHAIN]",
        True,
    ),
    (
        ("--boot-policy",),
        "boot_policy",
        "when the local database and the replica disagree at boot: refuse, quarantine (move the local files aside, then restore) or adopt (keep the local copy) (default refuse) [PYLTS_BOOT_POLICY]",
        False,
    ),
    (
        ("--ready-timeout",),
        "ready_timeout",
        "seconds replicating() / pylts replicate may take to be in sync at start, restore included (default 30 s + 0.5 s per MB of database) [PYLTS_READY_TIMEOUT]",
        False,
    ),
    (
        ("--max-backoff",),
        "max_backoff",
        "seconds; the longest wait before restarting a litestream that keeps failing to sync (a run that synced restarts after 0.5 s); no commit reaches the replica meanwhile (health() says Restarting), so it bounds what a crash loop adds to the recovery point; the max_backoff= keyword of Replicator and others wins (default 10) [PYLTS_MAX_BACKOFF]",
        False,
    ),
    (
        ("--snapshot-interval",),
        "snapshot_interval",
        "how often a full snapshot is written (default litestream's: 24h (0.5), none (0.3)) [PYLTS_SNAPSHOT_INTERVAL]",
        False,
    ),
    (
        ("--snapshot-retention",),
        "snapshot_retention",
        "how long snapshots are kept: how far back point-in-time restore reaches (default 24h) [PYLTS_SNAPSHOT_RETENTION]",
        False,
    ),
    (
        ("--l0-retention",),
        "l0_retention",
        "litestream 0.5 only; how long restore points of every sync are kept (default 5m) [PYLTS_L0_RETENTION]",
        False,
    ),
    (
        ("--sync-interval",),
        "sync_interval",
        "at most 10s; how often changes are shipped to the replica (default 1s) [PYLTS_SYNC_INTERVAL]",
        False,
    ),
    (
        ("--busy-timeout",),
        "busy_timeout",
        "litestream 0.5 only; how long litestream waits for SQLite's locks (default 1s) [PYLTS_BUSY_TIMEOUT]",
        False,
    ),
    (
        ("--metrics-address",),
        "metrics_address",
        "9090 (bound to 127.0.0.1) or HOST:PORT; Prometheus /metrics and Go's pprof (default off) [PYLTS_METRICS_ADDRESS]",
        False,
    ),
    (
        ("--heartbeat-interval",),
        "heartbeat_interval",
        "at least 1m; needs heartbeat_url (default 5m) [PYLTS_HEARTBEAT_INTERVAL]",
        False,
    ),
    (
        ("--databases",),
        "databases",
        "more databases replicated with the main one: FILE or FILE=REPLICA_URL, comma-separated [PYLTS_DATABASES]",
        False,
    ),
)

#: the settings options of ``pylts version`` (`LitestreamSettings`)
BINARY: tuple[SettingOption, ...] = (
    (
        ("--litestream-bin",),
        "litestream_bin",
        "path of a litestream 0.5 (0.5.17 or later) or 0.3.13 executable (default beside Python, then PATH) [LITESTREAM_BIN]",
        False,
    ),
)
