"""STS's errors, with the codes, HTTP statuses and wording AWS uses.

Every refusal the emulator gives is an ``StsError``; the server renders it as STS's
``<ErrorResponse>`` XML so botocore raises ``ClientError`` with the same code as against
AWS. The constructors below keep the wording in one place.
"""

from __future__ import annotations

__all__ = [
    "StsError",
    "access_denied_assume_role",
    "expired_token",
    "incomplete_signature",
    "invalid_client_token",
    "mfa_invalid_code",
    "mfa_unknown_device",
    "signature_mismatch",
    "validation_error",
]


class StsError(Exception):
    """A refusal as STS words it. Not a frozen dataclass: Python sets attributes such as
    ``__traceback__`` on exceptions as they travel, which a frozen one refuses."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def fault_type(self) -> str:
        """STS's ``<Type>``: whose fault it is."""
        return "Receiver" if self.status >= 500 else "Sender"


def invalid_client_token() -> StsError:
    return StsError(
        "InvalidClientTokenId", "The security token included in the request is invalid.", 403
    )


def expired_token() -> StsError:
    return StsError("ExpiredToken", "The security token included in the request is expired", 400)


def signature_mismatch(message: str | None = None) -> StsError:
    return StsError(
        "SignatureDoesNotMatch",
        message
        or "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details.",
        403,
    )


def incomplete_signature(message: str) -> StsError:
    return StsError("IncompleteSignature", message, 403)


def validation_error(message: str) -> StsError:
    return StsError("ValidationError", message, 400)


def mfa_invalid_code() -> StsError:
    # STS answers a wrong and a reused code alike (the trailing space is STS's).
    return StsError(
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        403,
    )


def mfa_unknown_device() -> StsError:
    return StsError(
        "AccessDenied",
        "MultiFactorAuthentication failed, unable to validate MFA code.  "
        "Please verify your MFA serial number is valid and associated with this user.",
        403,
    )


def access_denied_assume_role(caller_arn: str, role_arn: str) -> StsError:
    # STS gives the same words whichever condition failed (trust, MFA, MFA age, ExternalId).
    return StsError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )
