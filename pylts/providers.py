"""What each S3-compatible store needs: endpoint, region, addressing, payload signing, upload concurrency.

One frozen `Preset` per provider, from litestream's ``docs/PROVIDER_COMPATIBILITY.md`` and the
provider detection of litestream 0.5.17. A preset only fills what the settings leave unset:
the replica URL and ``REPLICA_ENDPOINT``/``REPLICA_REGION``/``REPLICA_FORCE_PATH_STYLE`` always win.

>>> from pylts.replica import parse_replica_url
>>> preset("r2").apply(parse_replica_url("s3://bkt/app.db"), account_id="abc123").url()
's3://bkt/app.db?endpoint=https%3A%2F%2Fabc123.r2.cloudflarestorage.com&region=auto&forcePathStyle=true&signPayload=true&concurrency=2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidArgument
from .replica import S3Replica, parse_replica_url


@dataclass(frozen=True)
class Preset:
    """The settings one provider needs; ``{region}`` and ``{account_id}`` in `endpoint` are filled in.

    `options` are litestream 0.5 URL options (``signPayload``, ``concurrency``...); litestream 0.3
    has no such keys, so on 0.3 only endpoint, region and path style apply. With `own_endpoint`
    (a self-hosted store) there is no endpoint to build: the user's is required.
    """

    name: str
    title: str
    endpoint: str | None = None
    region: str | None = None
    force_path_style: bool | None = None
    options: tuple[tuple[str, str], ...] = ()
    own_endpoint: bool = False
    example_region: str | None = None
    notes: str = ""

    @property
    def needs_account_id(self) -> bool:
        """Whether the endpoint is built from an account id (``REPLICA_ACCOUNT_ID``)."""
        return "{account_id}" in (self.endpoint or "")

    @property
    def needs_region(self) -> bool:
        """Whether the endpoint is built from the region (``REPLICA_REGION``)."""
        return "{region}" in (self.endpoint or "")

    def apply(self, replica: S3Replica, *, account_id: str | None = None) -> S3Replica:
        """``replica`` with this preset's values wherever the settings left a value unset.

        >>> from pylts.replica import parse_replica_url
        >>> preset("b2").apply(parse_replica_url("s3://bkt/a.db?region=us-west-004&signPayload=false")).url()
        's3://bkt/a.db?endpoint=https%3A%2F%2Fs3.us-west-004.backblazeb2.com&region=us-west-004&forcePathStyle=true&signPayload=false'
        """
        region = replica.region or self.region
        endpoint = replica.endpoint or self._endpoint(region, account_id)
        return replica.with_defaults(
            endpoint=endpoint, region=region, force_path_style=self.force_path_style, options=self.options
        )

    def _endpoint(self, region: str | None, account_id: str | None) -> str | None:
        if self.own_endpoint:
            raise InvalidArgument(
                f"provider {self.name} needs your own server: set REPLICA_ENDPOINT to its address, "
                "e.g. https://minio.example.com:9000 (without it litestream would go to AWS)"
            )
        if self.endpoint is None:
            return None
        if self.needs_account_id and not account_id:
            raise InvalidArgument(
                f"provider {self.name} needs your account id to build its endpoint {self.endpoint}: "
                "set REPLICA_ACCOUNT_ID, or give the endpoint in REPLICA_ENDPOINT"
            )
        if self.needs_region and not region:
            raise InvalidArgument(
                f"provider {self.name} needs a region to build its endpoint {self.endpoint}: "
                f"set REPLICA_REGION (e.g. {self.example_region}), or give the endpoint in REPLICA_ENDPOINT"
            )
        for name, value in (("REPLICA_REGION", region), ("REPLICA_ACCOUNT_ID", account_id)):
            if value and not _HOST_LABEL.match(value):
                raise InvalidArgument(
                    f"{name} {value!r} cannot be part of provider {self.name}'s endpoint: use letters, digits and "
                    "hyphens only"
                )
        return self.endpoint.format(region=region, account_id=account_id)


_SIGNED = ("signPayload", "true")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_EXAMPLE_ACCOUNT = "0123456789abcdef0123456789abcdef"

#: Every preset, by the name ``REPLICA_PROVIDER`` takes.
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "aws",
            "Amazon S3",
            notes=(
                "Nothing special: the region is optional, litestream finds the bucket's. pylts' own listing of the "
                "replica (its checks) signs for `us-east-1` first; told by AWS the bucket lives elsewhere, it asks "
                "there once. Setting `REPLICA_REGION` saves that extra request on every listing."
            ),
        ),
        Preset(
            "r2",
            "Cloudflare R2",
            endpoint="https://{account_id}.r2.cloudflarestorage.com",
            region="auto",
            options=(_SIGNED, ("concurrency", "2")),
            notes="R2 fails multipart uploads above 2 concurrent parts (litestream #912, #951) and wants signed "
            "payloads. litestream 0.3 cannot limit its upload concurrency: use 0.5 with R2.",
        ),
        Preset(
            "b2",
            "Backblaze B2",
            endpoint="https://s3.{region}.backblazeb2.com",
            force_path_style=True,
            options=(_SIGNED,),
            example_region="us-west-004",
            notes="B2 needs signed payloads and path-style addressing (litestream #918). The region is the part "
            "of the bucket's endpoint shown in the B2 console.",
        ),
        Preset(
            "tigris",
            "Tigris",
            endpoint="https://fly.storage.tigris.dev",
            region="auto",
            force_path_style=True,
            options=(_SIGNED, ("requireContentMD5", "false")),
            notes="litestream 0.5 sends Tigris' consistency header (X-Tigris-Consistent) itself when the endpoint "
            "is fly.storage.tigris.dev (litestream #905); 0.3 does not.",
        ),
        Preset(
            "minio",
            "MinIO",
            own_endpoint=True,
            region="us-east-1",
            force_path_style=True,
            options=(_SIGNED,),
            notes="Self-hosted: give your server's address in REPLICA_ENDPOINT (there is no endpoint to build).",
        ),
        Preset(
            "hetzner",
            "Hetzner Object Storage",
            endpoint="https://{region}.your-objectstorage.com",
            force_path_style=True,
            options=(_SIGNED,),
            example_region="fsn1",
            notes="Hetzner rejects unsigned payloads with InvalidArgument (litestream #943).",
        ),
        Preset(
            "digitalocean",
            "DigitalOcean Spaces",
            endpoint="https://{region}.digitaloceanspaces.com",
            force_path_style=False,
            options=(_SIGNED,),
            example_region="nyc3",
            notes="Spaces uses virtual-hosted addressing (bucket.REGION.digitaloceanspaces.com).",
        ),
        Preset(
            "wasabi",
            "Wasabi",
            endpoint="https://s3.{region}.wasabisys.com",
            example_region="us-east-1",
        ),
        Preset(
            "scaleway",
            "Scaleway Object Storage",
            endpoint="https://s3.{region}.scw.cloud",
            force_path_style=True,
            options=(_SIGNED,),
            example_region="fr-par",
            notes="Scaleway needs a Content-Length on uploads, which signed payloads give (litestream #912).",
        ),
    )
}


def example_env(chosen: Preset) -> list[str]:
    """The ``.env`` lines of a replica at ``chosen``, with placeholders where the user's values go.

    >>> example_env(preset("hetzner"))[:3]
    ['REPLICA_PROVIDER=hetzner', 'REPLICA_URL=s3://my-bucket/app.db', 'REPLICA_REGION=fsn1']
    """
    lines = [f"REPLICA_PROVIDER={chosen.name}", "REPLICA_URL=s3://my-bucket/app.db"]
    if chosen.needs_region:
        lines.append(f"REPLICA_REGION={chosen.example_region}")
    if chosen.needs_account_id:
        lines.append(f"REPLICA_ACCOUNT_ID={_EXAMPLE_ACCOUNT}")
    if chosen.name == "minio":
        lines.append("REPLICA_ENDPOINT=https://minio.example.com:9000")
    return [*lines, "LITESTREAM_ACCESS_KEY_ID=...", "LITESTREAM_SECRET_ACCESS_KEY=..."]


def reference_markdown() -> str:
    """The Providers page of the docs, made from the presets (a test keeps docs/providers.md equal to it)."""
    parts = [
        "# Providers",
        "",
        "Generated from the presets in `pylts/providers.py` (`reference_markdown()`); a test keeps it current.",
        "",
        "`REPLICA_PROVIDER` fills in what a store needs. Anything you set yourself wins: the replica URL's",
        "query, `REPLICA_ENDPOINT`, `REPLICA_REGION` and `REPLICA_FORCE_PATH_STYLE`. Each table shows what",
        "pylts hands each litestream line for the `.env` above it (the URL's query for 0.5, the config",
        "file for 0.3). litestream 0.3 has no signing, checksum or concurrency settings, so those rows are",
        "empty there. The facts come from litestream's `docs/PROVIDER_COMPATIBILITY.md`.",
        "",
    ]
    for chosen in PRESETS.values():
        env = example_env(chosen)
        values = dict(line.split("=", 1) for line in env)
        replica = chosen.apply(
            parse_replica_url(values["REPLICA_URL"]).with_overrides(
                values.get("REPLICA_ENDPOINT"), values.get("REPLICA_REGION"), None
            ),
            account_id=values.get("REPLICA_ACCOUNT_ID"),
        )
        parts += [f"## {chosen.title} (`{chosen.name}`)", ""]
        parts += [chosen.notes, ""] if chosen.notes else []
        parts += ["```sh", *env, "```", "", *_line_table(replica), ""]
    return "\n".join(parts)


def _line_table(replica: S3Replica) -> list[str]:
    new, old = replica.config_entry(), replica.config_entry(legacy=True)
    keys = [key for key in new if key not in ("type", "bucket", "path")]
    if not keys:
        return ["pylts adds nothing on either litestream line."]
    rows = ["| setting | litestream 0.5 | litestream 0.3 |", "| --- | --- | --- |"]
    return rows + [f"| `{key}` | {_cell(new.get(key))} | {_cell(old.get(key))} |" for key in keys]


def _cell(value: str | bool | int | None) -> str:
    if value is None:
        return "—"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def preset(name: str) -> Preset:
    """The preset called ``name`` (any case); `InvalidArgument` lists the known ones.

    >>> preset("R2").title
    'Cloudflare R2'
    >>> preset("s3")
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: unknown provider 's3': use one of aws, r2, b2, tigris, minio, hetzner, ...
    """
    found = PRESETS.get(name.strip().lower())
    if found is None:
        raise InvalidArgument(f"unknown provider {name!r}: use one of {', '.join(PRESETS)} (or leave it unset)")
    return found
