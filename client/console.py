"""`stsd console PROFILE`: open the AWS console as the role.

The AWS federation sign-in endpoint exchanges role credentials for a sign-in token
(`Action=getSigninToken`), and a login URL carrying that token opens the console. The
URL is a bearer secret for 15 minutes: it is opened or printed, never logged.
"""

import argparse
import json
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Mapping

from stsd.client.awsfiles import AwsFilesError, load_aws_files
from stsd.client.endpoint import EndpointError, fetch_role_credentials
from stsd.client.env import ProfileError, choose_profile
from stsd.client.output import fail
from stsd.client.paths import Paths
from stsd.client.settings import SettingsError, load_settings

__all__ = ["login_url", "run"]

_ISSUER = "stsd"


def _destination(region: str | None) -> str:
    if region:
        return f"https://{region}.console.aws.amazon.com/console/home?region={region}"
    return "https://console.aws.amazon.com/"


def login_url(signin_url: str, credentials: Mapping[str, str], destination: str) -> str:
    """Ask the sign-in endpoint for a token; return the console login URL.

    Raises:
        EndpointError: the endpoint refused or could not be reached.
    """
    session = json.dumps(
        {
            "sessionId": credentials["AccessKeyId"],
            "sessionKey": credentials["SecretAccessKey"],
            "sessionToken": credentials["Token"],
        }
    )
    query = urllib.parse.urlencode({"Action": "getSigninToken", "Session": session})
    try:
        with urllib.request.urlopen(f"{signin_url}?{query}", timeout=15) as response:  # noqa: S310
            token = json.load(response)["SigninToken"]
    except urllib.error.HTTPError as error:
        raise EndpointError(
            f"the sign-in endpoint refused the role credentials (HTTP {error.code})"
        ) from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise EndpointError(f"can't get a sign-in token from {signin_url}: {error}") from None
    login = urllib.parse.urlencode(
        {"Action": "login", "Issuer": _ISSUER, "Destination": destination, "SigninToken": token}
    )
    return f"{signin_url}?{login}"


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    try:
        settings = load_settings(paths.config_file)
        files = load_aws_files(env)
        profile = choose_profile(args.profile, settings, files)
    except (SettingsError, AwsFilesError) as error:
        return fail(str(error), 78)
    except ProfileError as error:
        return fail(str(error), 2)
    try:
        credentials = fetch_role_credentials(paths, profile)
        url = login_url(
            settings.signin_url,
            credentials,
            args.destination or _destination(files.region(profile)),
        )
    except EndpointError as error:
        return fail(str(error), error.exit_code)
    if args.print:
        print(url)
        return 0
    if not webbrowser.open(url):
        return fail("no browser to open; use `stsd console --print` and open the URL yourself")
    print(f"Opened the AWS console as {profile} in your browser.")
    return 0
