"""The profiles the daemon's unit tests share: a bastion source, a role, a chained role."""

from datetime import timedelta

from stsd.daemon.model import Credentials, RoleProfile, SourceProfile

HOUR = timedelta(hours=1)

BASTION = SourceProfile(
    name="bastion",
    keys=Credentials("AKIAEXAMPLEKEY000001", "long-term-secret"),
    mfa_serial="arn:aws:iam::111111111111:mfa/alice",
    region="eu-west-1",
    keys_origin="~/.aws/credentials",
)
PROD = RoleProfile(
    name="prod-ro",
    role_arn="arn:aws:iam::222222222222:role/ReadOnly",
    parent="bastion",
    source="bastion",
    duration=HOUR,
    region="eu-west-1",
)
AUDIT = RoleProfile(  # chained: assumed with prod-ro's credentials
    name="audit",
    role_arn="arn:aws:iam::333333333333:role/Audit",
    parent="prod-ro",
    source="bastion",
    duration=HOUR,
    region="eu-west-1",
)
