"""What verifying the EHR's JWT adds to one hook in production (bench_hooks runs dev mode).

    .venv/bin/python bench/bench_jwt.py [--tokens 400] [--postgres URL]

For ES384 and RS384 tokens (the two algorithms allowed by default), each with a fresh ``jti``,
times ``Authenticator.authenticate`` as the hook's ``before_request`` calls it, with the
seen-``jti`` ids kept (a) in process memory, (b) in the SQLite store (a temporary file, WAL:
the default, shared by the workers of one machine) and (c) in PostgreSQL when ``--postgres``
or ``TEST_DATABASE_URL`` is given. Keys come from a JWK Set file named in a trust file, as
in production; tokens are minted before the timing starts.

Prints microseconds per verification; no assertion (speed targets live in benchmarks).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_service.config import Settings
from cds_service.security import build_authenticator
from cds_service.store import open_store

ISSUER = "https://ehr.example.org/fhir"
PUBLIC = "https://cds.example.org"
AUDIENCE = f"{PUBLIC}/cds-services/msc-liver-screening"


def keys() -> dict[str, tuple[str, Any]]:
    return {
        "ES384": ("bench-es384", ec.generate_private_key(ec.SECP384R1())),
        "RS384": ("bench-rs384", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }


def write_trust(folder: Path, signing: dict[str, tuple[str, Any]]) -> Path:
    jwks = []
    for alg, (kid, private) in signing.items():
        jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private.public_key()))
        jwk.update(kid=kid, alg=alg, use="sig")
        jwks.append(jwk)
    (folder / "ehr.jwks.json").write_text(json.dumps({"keys": jwks}))
    trust = folder / "trust.json"
    trust.write_text(
        json.dumps({"version": 1, "issuers": [{"iss": ISSUER, "jwks_file": "ehr.jwks.json"}]})
    )
    return trust


def tokens(alg: str, kid: str, private: Any, count: int) -> list[str]:
    now = time.time()
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300}
    return [
        "Bearer "
        + jwt.encode({**claims, "jti": str(uuid.uuid4())}, private, alg, headers={"kid": kid})
        for _ in range(count)
    ]


def per_call_us(authenticator: Any, headers: list[str]) -> float:
    authenticator.authenticate(headers[0], AUDIENCE)  # loads the key set
    times = []
    for header in headers[1:]:
        start = time.perf_counter()
        authenticator.authenticate(header, AUDIENCE)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    logging.getLogger("cds_service").setLevel(logging.ERROR)
    signing = keys()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = Settings(
            trust_file=str(write_trust(folder, signing)),
            public_base_url=PUBLIC,
            workers=1,
            sqlite_path=str(folder / "bench.sqlite3"),
        )
        stores: dict[str, Any] = {"in process memory": None}
        sqlite = open_store(base)
        sqlite.upgrade()
        stores["SQLite store (WAL)"] = sqlite
        if args.postgres:
            postgres = open_store(base.with_overrides(database_url=args.postgres))
            postgres.upgrade()
            stores["PostgreSQL store"] = postgres
        print(f"median of {args.tokens - 1} verifications, each token with a fresh jti")
        print("| algorithm | seen-jti ids kept in | µs per verification |")
        print("|---|---|---|")
        for alg, (kid, private) in signing.items():
            for name, store in stores.items():
                authenticator = build_authenticator(base, store, None)
                headers = tokens(alg, kid, private, args.tokens)
                print(f"| {alg} | {name} | {per_call_us(authenticator, headers):.0f} |")
        for store in stores.values():
            if store is not None:
                store.close()


if __name__ == "__main__":
    main()
