"""Check a request's SigV4 signature the way STS does, with botocore's own signer.

Nothing here computes SigV4 by hand: the canonical request, string to sign and signature
come from ``botocore.auth.SigV4Auth``, fed the request exactly as it arrived (only the
headers the client says it signed) and the client's own ``X-Amz-Date``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stsd.emulator.errors import StsError, incomplete_signature, signature_mismatch

__all__ = [
    "MAX_SKEW",
    "Authorization",
    "SignedRequest",
    "check_timestamp",
    "parse_authorization",
    "verify_signature",
]

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# AWS accepts a request signed up to 15 minutes before or after its own clock.
MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An HTTP request as it came off the wire: raw path and query, all headers, body."""

    method: str
    path_qs: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]


@dataclass(frozen=True, slots=True)
class Authorization:
    """What the ``Authorization`` header and its companions claim."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: str
    security_token: str | None = field(repr=False)


def parse_authorization(request: SignedRequest, service: str = "sts") -> Authorization:
    """Parse the SigV4 ``Authorization`` header or raise STS's error for it.

    ``service`` is the one the action belongs to: ``sts``, or ``iam`` for IAM's actions.
    """
    header = request.header("Authorization")
    if header is None:
        if "X-Amz-Signature=" in request.path_qs:
            raise incomplete_signature("The emulator does not accept presigned (query) requests.")
        raise StsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise incomplete_signature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in parts]
    if missing:
        raise incomplete_signature(
            " ".join(f"Authorization header requires '{k}' parameter." for k in missing)
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise incomplete_signature(
            "Credential should be scoped to a valid region, service and 'aws4_request'."
        )
    access_key_id, scope_date, region, scoped_service, _ = scope
    if scoped_service != service:
        raise signature_mismatch(f"Credential should be scoped to correct service: '{service}'. ")
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    amz_date = request.header("X-Amz-Date")
    if amz_date is None:
        raise incomplete_signature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    for required in ("host", "x-amz-date"):
        if required not in signed_headers:
            raise incomplete_signature(
                f"'{required}' must be a 'SignedHeader' in the AWS Authorization."
            )
    return Authorization(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=scoped_service,
        signed_headers=signed_headers,
        signature=parts["Signature"],
        amz_date=amz_date,
        security_token=request.header("X-Amz-Security-Token"),
    )


def check_timestamp(auth: Authorization, now: datetime) -> None:
    """Refuse a request signed more than 15 minutes away from ``now``, in STS's words."""
    try:
        signed_at = datetime.strptime(auth.amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise incomplete_signature(
            f"Date must be in ISO-8601 'basic format'. Got '{auth.amz_date}'."
        ) from None
    if auth.scope_date != auth.amz_date[:8]:
        raise signature_mismatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.scope_date}' != '{auth.amz_date[:8]}', from '{auth.amz_date}'."
        )
    now_text = now.strftime(AMZ_DATE_FORMAT)
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise signature_mismatch(
            f"Signature expired: {auth.amz_date} is now earlier than {earliest} "
            f"({now_text} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise signature_mismatch(
            f"Signature not yet current: {auth.amz_date} is still later than {latest} "
            f"({now_text} + 15 min.)"
        )


def verify_signature(request: SignedRequest, auth: Authorization, secret_access_key: str) -> None:
    """Recompute the signature with botocore from the signed parts; raise if it differs."""
    body_hash = request.header("X-Amz-Content-SHA256")
    if (
        "x-amz-content-sha256" in auth.signed_headers
        and body_hash != hashlib.sha256(request.body).hexdigest()
    ):
        # A signed but wrong body hash would let the body change under a valid signature.
        raise signature_mismatch()
    host = request.header("Host") or "localhost"
    # http: botocore always hashes the payload over plain HTTP, as STS expects.
    rebuilt = AWSRequest(method=request.method, url=f"http://{host}{request.path_qs}")
    rebuilt.data = request.body
    for name in auth.signed_headers:
        values = request.header_values(name)
        if not values:
            raise signature_mismatch()
        for value in values:
            # HTTPHeaders appends on assignment, keeping repeated headers as sent.
            rebuilt.headers[name] = value
    rebuilt.context["timestamp"] = auth.amz_date
    signer = SigV4Auth(
        Credentials(auth.access_key_id, secret_access_key), auth.service, auth.region
    )
    canonical_request = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical_request), rebuilt)
    if not hmac.compare_digest(expected, auth.signature):
        raise signature_mismatch()
