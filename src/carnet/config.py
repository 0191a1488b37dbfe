"""Settings: the only module that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Carnet has, read from CARNET_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CARNET_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("./carnet-data"), description="where the embedded store lives")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir; postgresql+psycopg://... for production",
    )
    language: str = Field(default="en", description="language of CLI output: en or es")
    attribute_dictionary: Path | None = Field(
        default=None, description="attribute dictionary YAML; default is the one shipped with Carnet"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    session_days: int = Field(default=1, description="lifetime of a web session cookie")
    token_ttl_hours: int = Field(default=12, ge=1, le=24 * 90, description="lifetime of a staff API token")
    citizen_token_ttl_hours: int = Field(
        default=2, ge=1, le=24 * 30, description="lifetime of a citizen's API token (often a shared phone)"
    )
    throttle_free_failures: int = Field(
        default=3, ge=1, description="failed attempts against one account or card before back-off starts"
    )
    throttle_base_delay_seconds: int = Field(
        default=2, ge=0, description="the first back-off; each further failure doubles it"
    )
    throttle_max_delay_seconds: int = Field(default=900, ge=0, description="the longest back-off")
    throttle_lockout_failures: int = Field(
        default=10, ge=2, description="failures that lock an account or card until a registrar or admin unlocks it"
    )
    throttle_address_free_failures: int = Field(
        default=10, ge=1, description="failures from one client address before back-off starts"
    )
    throttle_address_lockout_failures: int = Field(
        default=20, ge=2, description="failures from one client address (password spraying) that lock it out"
    )
    import_batch_size: int = Field(default=10_000, ge=100, le=200_000)
    import_max_rows: int = Field(default=2_000_000, ge=1, description="data rows an import file may hold")
    import_max_columns: int = Field(default=500, ge=1, description="columns an import file may hold")
    import_max_cell_chars: int = Field(default=32_768, ge=64, description="characters one cell may hold")
    import_max_uncompressed_bytes: int = Field(
        default=200 << 20, ge=1 << 20, description="an XLSX workbook's total size once unzipped"
    )
    import_max_member_bytes: int = Field(
        default=150 << 20, ge=1 << 20, description="one part (sheet, shared strings) of an XLSX once unzipped"
    )
    import_max_members: int = Field(default=1_000, ge=10, description="parts an XLSX workbook may hold")
    import_max_compression_ratio: int = Field(
        default=250, ge=10, description="how much one large XLSX part may shrink when zipped (zip bombs shrink more)"
    )
    max_upload_bytes: int = Field(default=100 << 20, ge=1024, description="largest file POST /api/v1/imports accepts")
    card_image_max_bytes: int = Field(default=20 << 20, ge=1024, description="largest image `cards verify` reads")
    card_image_max_pixels: int = Field(
        default=40_000_000, ge=10_000, description="largest image `cards verify` decodes"
    )
    debug: bool = Field(default=False, description="print Python tracebacks on unexpected CLI errors")
    head_interval_seconds: int = Field(
        default=300, ge=0, description="how often the server signs a tree head when the log grew (0: never)"
    )
    card_issuer: str = Field(default="carnet", max_length=64, description="the issuer named in every card")
    card_validity_days: int = Field(default=1826, ge=1, le=3660, description="how long a new card is valid")
    status_list_capacity: int = Field(
        default=1 << 20, ge=1024, le=1 << 24, description="indexes per revocation status list"
    )
    status_list_ttl_seconds: int = Field(
        default=3 * 86400, ge=60, description="how long a point may rely on a status list it fetched"
    )
    pin_hash_memory_kib: int = Field(default=256, ge=64, description="Argon2id memory for card PIN hashes")
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="largest request body, refused with 413 before it is read"
    )
    max_json_depth: int = Field(default=32, ge=2, le=256, description="deepest nesting of a JSON request body")
    trust_forwarded_proto: bool = Field(
        default=False, description="believe X-Forwarded-Proto (behind a TLS-terminating proxy) for HSTS and cookies"
    )
    key_passphrase: str | None = Field(
        default=None, repr=False, description="encrypts the private signing keys stored in the database"
    )
    manifest_ttl_seconds: int = Field(
        default=7 * 86400, ge=3600, description="how long a point may work from one manifest (never past its cycle)"
    )
    point_stale_after_seconds: int = Field(
        default=3 * 86400, ge=60, description="status-list age past which a point applies the stale policy"
    )
    point_stale_action: Literal["refuse", "flag"] = Field(
        default="flag", description="past that age, refuse hand-overs or allow them flagged"
    )
    enrolment_code_ttl_seconds: int = Field(
        default=86400, ge=300, le=30 * 86400, description="how long a device enrolment code stays usable"
    )
    witness_passphrase: str | None = Field(
        default=None, repr=False, description="encrypts an oversight body's witness key file (`carnet audit witness`)"
    )
    point_dir: Path = Field(
        default=Path("./carnet-point"), description="the point agent's own store (one directory per point)"
    )
    point_passphrase: str | None = Field(
        default=None, repr=False, description="encrypts the point device's own keys in its store"
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'carnet.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
