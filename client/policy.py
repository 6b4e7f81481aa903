"""`stsd policy bastion|trust`: the IAM policies of the bastion-account pattern.

bastion: for the group of IAM users in the bastion account. Without MFA they may only
set up their own MFA device and get a session; with MFA they may assume roles and
manage their own access keys; nothing else, ever.

trust: the trust policy of a role in a work account: the bastion account's users, MFA
required. `aws:MultiFactorAuthAge` is off by default: stsd re-assumes chained roles all
session long, so a limit shorter than the session breaks them mid-day.
"""

import argparse
import json
import re
from collections.abc import Mapping
from typing import Any

from stsd.client.output import fail
from stsd.client.paths import Paths
from stsd.client.settings import SettingsError, load_settings

__all__ = ["bastion_policy", "run", "trust_policy"]

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
# What a user must be able to do before they have an MFA session.
_WITHOUT_MFA = [
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetUser",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
]


def bastion_policy(account: str, role_arns: list[str]) -> dict[str, Any]:
    """The bastion group's policy; `account` is "*" or the bastion account's id."""
    user = f"arn:aws:iam::{account}:user/${{aws:username}}"
    device = f"arn:aws:iam::{account}:mfa/${{aws:username}}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeWorkRolesOnlyWithMfa",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": role_arns,
                "Condition": _MFA,
            },
            {
                "Sid": "SetUpOwnMfaDevice",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ResyncMFADevice",
                    "iam:ListMFADevices",
                    "iam:GetUser",
                ],
                "Resource": [user, device],
            },
            {
                "Sid": "ListVirtualMfaDevicesForTheConsole",
                "Effect": "Allow",
                "Action": "iam:ListVirtualMFADevices",
                "Resource": "*",
            },
            {
                "Sid": "RemoveOwnMfaDeviceOnlyWithMfa",
                "Effect": "Allow",
                "Action": ["iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"],
                "Resource": [user, device],
                "Condition": _MFA,
            },
            {
                "Sid": "ManageOwnAccessKeysOnlyWithMfa",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateAccessKey",
                    "iam:DeleteAccessKey",
                    "iam:UpdateAccessKey",
                    "iam:ListAccessKeys",
                    "iam:GetAccessKeyLastUsed",
                ],
                "Resource": user,
                "Condition": _MFA,
            },
            {
                "Sid": "DenyEverythingElseWithoutMfa",
                "Effect": "Deny",
                "NotAction": _WITHOUT_MFA,
                "Resource": "*",
                # IfExists: requests signed with long-term keys carry no MFA key at all.
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }


def trust_policy(bastion_account: str, max_mfa_age: int | None) -> dict[str, Any]:
    """A work role's trust policy: the bastion account's users, with MFA."""
    condition: dict[str, Any] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    if max_mfa_age is not None:
        condition["NumericLessThan"] = {"aws:MultiFactorAuthAge": str(max_mfa_age)}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BastionUsersWithMfa",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{bastion_account}:root"},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.kind == "bastion":
        account = args.bastion_account or "*"
        if account != "*" and not _ACCOUNT.match(account):
            return fail("--bastion-account is a 12-digit account id", 2)
        roles = args.role_arn or ["arn:aws:iam::*:role/*"]
        print(json.dumps(bastion_policy(account, roles), indent=2))
        return 0
    if not args.bastion_account or not _ACCOUNT.match(args.bastion_account):
        return fail("stsd policy trust needs --bastion-account with a 12-digit account id", 2)
    if args.max_mfa_age is not None:
        try:
            settings = load_settings(Paths.from_env(env).config_file)
        except SettingsError as error:
            return fail(str(error), 78)
        session = int(settings.session_duration.total_seconds())
        if args.max_mfa_age < session:
            return fail(
                f"--max-mfa-age {args.max_mfa_age} is shorter than the MFA session "
                f"({session} s): stsd re-assumes roles all session long, so they would "
                "fail mid-session. Use at least the session length, or leave it out.",
                2,
            )
    print(json.dumps(trust_policy(args.bastion_account, args.max_mfa_age), indent=2))
    return 0
